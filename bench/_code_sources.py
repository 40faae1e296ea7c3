"""The real code the shipped code classifier is built and judged on, in three roles that share no source:
``train`` (tools/build_code_classifier.py trains on it), ``calibrate`` (it picks each language's threshold
on it: repositories the model never saw) and ``test`` (bench/shipped_code_classifier.py reports it;
never read by the build).

Files are labelled by what their source is for, as bench/code.py does: a math library's files are math, a
web framework's are not. Algorithm collections are labelled by folder: their math folders (number theory,
linear algebra, numerics, geometry) are math, their sorting, searching, string and data-structure folders
are the algorithmic code that is not math; the rest (graphs, dynamic programming, games, ciphers) is left
out. OpenGenus/cosmos is split by algorithm folder (a folder holds one algorithm in several languages, so
a split by file would put the same algorithm on both sides).

Sources are specs of bench/_packages.py. Every source's licence is an open-source licence that allows
redistributing a model trained on it; ``licence`` names it (the model card lists them).
The sources of ../shared/HELD-OUT.md are none of these.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from _measure import best_cpu_seconds
from _packages import MIRRORS


@dataclass(frozen=True)
class CodeSource:
    name: str
    language: str  # the language it is counted under (an algorithm collection holds several: "mixed")
    label: str  # "math" or "other"
    role: str  # "train", "calibrate" or "test"
    specs: tuple[str, ...]
    licence: str


GO = "debian:golang-1.19/"
_PG = "debian:postgresql-15/"
ABS = "usr/share/doc/abs-guide/examples/"
ABS_MATH = ("gcd.sh", "arith-ops.sh", "numbers.sh", "arith-tests.sh", "ex46.sh", "primes2.sh", "monthlypmt.sh",
             "base.sh", "alt-bc.sh", "cannon.sh", "hexconvert.sh", "factr.sh", "hypotenuse.sh", "unit-conversion.sh",
             "date-calc.sh", "days-between.sh", "ex61.sh", "max.sh", "max2.sh", "fibo.sh", "hanoi.bash", "ex63.sh",
             "ex68.sh", "ex68a.sh", "q-function.sh", "collatz.sh", "primes.sh", "sd.sh", "msquare.sh",
             "multiplication.sh", "sum-product.sh", "hanoi2.bash", "hanoi2a.bash")
# the guide's games, random numbers, sorting, ciphers and text statistics: neither side
ABS_UNCLEAR = ("c-vars.sh", "ex45.sh", "ex13.sh", "bad-op.sh", "col-totaler.sh", "col-totaler2.sh",
                "col-totaler3.sh", "ex53.sh", "ex21.sh", "pick-card.sh", "brownian.sh", "random-between.sh",
                "random-test.sh", "seeding-random.sh", "random2.sh", "rnd.sh", "rand-string.sh", "pw.sh", "cards.sh",
                "bingo.sh", "petals.sh", "nim.sh", "ktour.sh", "fifteen.sh", "life.sh", "bubble.sh",
                "insertion-sort.bash", "twodim.sh", "stack.sh", "Hash.lib", "hash-example.sh", "ha.sh",
                "gronsfeld.bash", "base64.sh", "rot13.sh", "rot13a.sh", "rot14.sh", "crypto-quote.sh", "soundex.sh",
                "ascii.sh", "ascii2.sh", "ascii3.sh", "letter-count.sh", "letter-count2.sh", "wf.sh", "wf2.sh",
                "agram.sh", "agram2.sh", "cw-solver.sh", "qky.sh", "recursion-demo.sh", "recursion-def.sh",
                "return-test.sh", "test-execution-time.sh", "assoc-arr-test.sh", "horserace.sh", "int-or-string.sh")


def regress(*names: str) -> str:
    return _PG + ",".join(f"src/test/regress/sql/{name}.sql" for name in names)


def _contrib(*modules: str) -> str:
    return _PG + ",".join(f"contrib/{module}" for module in modules)


_FISET = "src/main/java/com/williamfiset/algorithms/"
_COSMOS_MATH = ("code/mathematical_algorithms/src", "code/numerical_analysis")
_COSMOS_OTHER = ("code/sorting/src", "code/search/src", "code/data_structures/src", "code/string_algorithms/src")
_COSMOS_SHARE = {"train": (0, 6), "calibrate": (6, 7), "test": (7, 10)}  # tenths of the folders, by hash


@lru_cache(maxsize=None)
def _cosmos_folders(top: str) -> tuple[str, ...]:
    """The algorithm folders below ``top`` in the cosmos mirror (two levels down for the data structures,
    whose first level is a kind: tree, list, ...)."""
    repo = MIRRORS / "OpenGenus+cosmos" / "repo"
    depth = 2 if top.endswith("data_structures/src") else 1
    names = subprocess.run(["git", "--git-dir", str(repo), "ls-tree", "-r", "--name-only", "HEAD", top + "/"],
                           check=True, capture_output=True, text=True).stdout.split()
    return tuple(sorted({"/".join(name.split("/")[:top.count("/") + 1 + depth]) for name in names
                         if name.count("/") > top.count("/") + depth}))


def cosmos_spec(tops: tuple[str, ...], role: str) -> str:
    low, high = _COSMOS_SHARE[role]
    folders = [f for top in tops for f in _cosmos_folders(top)
               if low <= int(hashlib.sha1(f.split("/")[-1].encode()).hexdigest(), 16) % 10 < high]
    return "git:OpenGenus+cosmos/" + ",".join(folders)


def _git(mirror: str, prefix: str, *parts: str) -> str:
    return f"git:{mirror}/" + ",".join(prefix + part for part in parts)


def _source(name, language, label, role, *specs, licence):
    return CodeSource(name, language, label, role, tuple(specs), licence)


def code_sources() -> list[CodeSource]:
    """Every source (the cosmos splits list the mirror, so this is a function)."""
    rows = [
        # --- python
        ("sympy", "python", "math", "train", "pypi:sympy==1.12", "BSD-3-Clause"),
        ("requests", "python", "other", "train", "pypi:requests==2.31.0", "Apache-2.0"),
        ("flask", "python", "other", "train", "pypi:flask==3.0.0", "BSD-3-Clause"),
        ("django", "python", "other", "train", "pypi:django==4.2.7", "BSD-3-Clause"),
        ("keon-algorithms math", "python", "math", "train", _git("keon+algorithms", "algorithms/", "math", "matrix"),
         "MIT"),
        ("keon-algorithms other", "python", "other", "train", _git(
            "keon+algorithms", "algorithms/", "sorting", "searching", "string", "linked_list", "stack", "queue", "heap",
            "map", "tree", "data_structures"), "MIT"),
        ("toolz", "python", "other", "train", "pypi:toolz==1.2.0", "BSD-3-Clause"),
        ("pyparsing", "python", "other", "train", "pypi:pyparsing==3.3.3", "MIT"),
        ("numdifftools", "python", "math", "calibrate", "pypi:numdifftools==0.11.2", "BSD-3-Clause"),
        ("attrs", "python", "other", "calibrate", "pypi:attrs==26.1.0", "MIT"),
        ("mpmath", "python", "math", "test", "pypi:mpmath==1.3.0", "BSD-3-Clause"),
        ("uncertainties", "python", "math", "test", "pypi:uncertainties==3.2.3", "BSD-3-Clause"),
        ("lmfit", "python", "math", "test", "pypi:lmfit==1.3.4", "BSD-3-Clause"),
        ("filterpy", "python", "math", "test", "pypi:filterpy==2.0.0", "MIT"),
        ("numpy-financial", "python", "math", "test", "pypi:numpy-financial==1.0.0", "BSD-3-Clause"),
        ("primefac", "python", "math", "test", "pypi:primefac==2.0.12", "MIT"),
        ("click", "python", "other", "test", "pypi:click==8.1.7", "BSD-3-Clause"),
        ("rich", "python", "other", "test", "pypi:rich==13.7.0", "MIT"),
        ("tqdm", "python", "other", "test", "pypi:tqdm==4.70.1", "MPL-2.0 and MIT"),
        ("sortedcontainers", "python", "other", "test", "pypi:sortedcontainers==2.4.0", "Apache-2.0"),
        ("PyYAML", "python", "other", "test", "pypi:PyYAML==6.0.4", "MIT"),
        ("galgebra", "python", "math", "test", "pypi:galgebra==0.6.0", "BSD-3-Clause"),
        ("quaternionic", "python", "math", "test", "pypi:quaternionic==1.0.18", "MIT"),
        ("six", "python", "other", "test", "pypi:six==1.17.0", "MIT"),
        ("idna", "python", "other", "test", "pypi:idna==3.21", "BSD-3-Clause"),
        ("packaging", "python", "other", "test", "pypi:packaging==26.4", "Apache-2.0 or BSD-2-Clause"),
        ("colorama", "python", "other", "test", "pypi:colorama==0.4.6", "BSD-3-Clause"),
        ("urllib3", "python", "other", "test", "pypi:urllib3==2.8.0", "MIT"),
        ("more-itertools", "python", "other", "test", "pypi:more-itertools==11.2.1", "MIT"),
        # --- javascript
        ("mathjs", "javascript", "math", "train", "npm:mathjs@12.2.1", "Apache-2.0"),
        ("express", "javascript", "other", "train", "npm:express@4.18.2", "MIT"),
        ("axios", "javascript", "other", "train", "npm:axios@1.6.2", "MIT"),
        ("javascript-algorithms math", "javascript", "math", "train", _git(
            "trekhleb+javascript-algorithms", "src/", "algorithms/math", "algorithms/statistics"), "MIT"),
        ("javascript-algorithms other", "javascript", "other", "train", _git(
            "trekhleb+javascript-algorithms", "src/", "algorithms/sorting", "algorithms/search", "algorithms/string",
            "algorithms/linked-list", "algorithms/stack", "data-structures"), "MIT"),
        ("moment", "javascript", "other", "train", "npm:moment@2.31.0", "MIT"),
        ("underscore", "javascript", "other", "train", "npm:underscore@1.13.8", "MIT"),
        ("async", "javascript", "other", "train", "npm:async@3.2.6", "MIT"),
        ("ml-distance", "javascript", "math", "train", "npm:ml-distance@5.0.0", "MIT"),
        ("ml-stat", "javascript", "math", "train", "npm:ml-stat@1.3.3", "MIT"),
        ("regression", "javascript", "math", "train", "npm:regression@2.0.1", "MIT"),
        ("luxon", "javascript", "other", "calibrate", "npm:luxon@3.7.2", "MIT"),
        ("ml-matrix", "javascript", "math", "calibrate", "npm:ml-matrix@6.15.1", "MIT"),
        ("uuid", "javascript", "other", "calibrate", "npm:uuid@14.0.3", "MIT"),
        ("delaunator", "javascript", "math", "calibrate", "npm:delaunator@5.1.0", "ISC"),
        ("robust-predicates", "javascript", "math", "calibrate", "npm:robust-predicates@3.0.3", "Unlicense"),
        ("ml-levenberg-marquardt", "javascript", "math", "calibrate", "npm:ml-levenberg-marquardt@5.1.0", "MIT"),
        ("ramda", "javascript", "other", "calibrate", "npm:ramda@0.32.0", "MIT"),
        ("qs", "javascript", "other", "calibrate", "npm:qs@6.17.1", "BSD-3-Clause"),
        ("minimatch", "javascript", "other", "calibrate", "npm:minimatch@11.0.10", "BlueOak-1.0.0"),
        ("simple-statistics", "javascript", "math", "test", "npm:simple-statistics@7.8.3", "ISC"),
        ("bignumber.js", "javascript", "math", "test", "npm:bignumber.js@11.1.5", "MIT"),
        ("big.js", "javascript", "math", "test", "npm:big.js@7.0.1", "MIT"),
        ("fft.js", "javascript", "math", "test", "npm:fft.js@4.0.4", "MIT"),
        ("ml-regression-simple-linear", "javascript", "math", "test", "npm:ml-regression-simple-linear@3.0.1", "MIT"),
        ("commander", "javascript", "other", "test", "npm:commander@11.1.0", "MIT"),
        ("chalk", "javascript", "other", "test", "npm:chalk@5.3.0", "MIT"),
        ("dayjs", "javascript", "other", "test", "npm:dayjs@1.11.23", "MIT"),
        ("semver", "javascript", "other", "test", "npm:semver@7.8.6", "ISC"),
        ("minimist", "javascript", "other", "test", "npm:minimist@1.2.8", "MIT"),
        ("debug", "javascript", "other", "test", "npm:debug@4.4.3", "MIT"),
        ("lodash", "javascript", "other", "test", "npm:lodash@4.18.1", "MIT"),
        ("date-fns", "javascript", "other", "test", "npm:date-fns@4.4.0", "MIT"),
        ("yaml", "javascript", "other", "test", "npm:yaml@2.9.1", "ISC"),
        ("ws", "javascript", "other", "test", "npm:ws@8.23.1", "MIT"),
        # --- c
        ("gsl", "c", "math", "train", "debian:gsl", "GPL-3.0"),
        ("curl", "c", "other", "train", "debian:curl", "curl"),
        ("bzip2", "c", "other", "train", "debian:bzip2", "bzip2"),
        ("xz-utils", "c", "other", "train", "debian:xz-utils", "0BSD"),
        ("libpng", "c", "other", "train", "debian:libpng1.6", "libpng"),
        ("FLINT", "c", "math", "train", "debian:flint", "LGPL-2.1"),
        ("PARI/GP", "c", "math", "train", "debian:pari", "GPL-2.0"),
        ("gf2x", "c", "math", "calibrate", "debian:gf2x", "GPL-3.0"),
        ("PCRE2", "c", "other", "calibrate", "debian:pcre2", "BSD-3-Clause"),
        ("qhull", "c", "math", "calibrate", "debian:qhull", "Qhull"),
        ("libyaml", "c", "other", "calibrate", "debian:libyaml", "MIT"),
        ("mpfr", "c", "math", "test", "debian:mpfr4", "LGPL-3.0"),
        ("glpk", "c", "math", "test", "debian:glpk", "GPL-3.0"),
        ("gmp", "c", "math", "test", "debian:gmp", "LGPL-3.0"),
        ("fftw", "c", "math", "test", "debian:fftw3", "GPL-2.0"),
        ("lp_solve", "c", "math", "test", "debian:lp-solve", "LGPL-2.1"),
        ("GNU MPC", "c", "math", "test", "debian:mpclib3", "LGPL-3.0"),
        ("json-c", "c", "other", "test", "debian:json-c", "MIT"),
        ("nauty", "c", "math", "test", "debian:nauty", "Apache-2.0"),
        ("jansson", "c", "other", "test", "debian:jansson", "MIT"),
        ("libevent", "c", "other", "test", "debian:libevent", "BSD-3-Clause"),
        ("expat", "c", "other", "test", "debian:expat", "MIT"),
        ("lz4", "c", "other", "test", "debian:lz4", "BSD-2-Clause"),
        ("zlib", "c", "other", "test", "debian:zlib", "Zlib"),
        # --- c++
        ("eigen", "c++", "math", "train", "debian:eigen3", "MPL-2.0"),
        ("yaml-cpp", "c++", "other", "train", "debian:yaml-cpp", "MIT"),
        ("fmt", "c++", "other", "train", "debian:fmtlib", "MIT"),
        ("RE2", "c++", "other", "train", "debian:re2", "BSD-3-Clause"),
        ("FFLAS-FFPACK", "c++", "math", "train", "debian:fflas-ffpack", "LGPL-2.1"),
        ("gflags", "c++", "other", "calibrate", "debian:gflags", "BSD-3-Clause"),
        ("muparser", "c++", "math", "calibrate", "debian:muparser", "BSD-2-Clause"),
        ("muparserx", "c++", "math", "calibrate", "debian:muparserx", "BSD-2-Clause"),
        ("libconfig", "c++", "other", "calibrate", "debian:libconfig", "LGPL-2.1"),
        ("tinyxml2", "c++", "other", "calibrate", "debian:tinyxml2", "Zlib"),
        ("armadillo", "c++", "math", "test", "debian:armadillo", "Apache-2.0"),
        ("ntl", "c++", "math", "test", "debian:ntl", "LGPL-2.1"),
        ("GiNaC", "c++", "math", "test", "debian:ginac", "GPL-2.0"),
        ("Clipper", "c++", "math", "test", "debian:clipper", "BSL-1.0"),
        ("nlohmann-json", "c++", "other", "test", "debian:nlohmann-json3", "MIT"),
        ("spdlog", "c++", "other", "test", "debian:spdlog", "MIT"),
        ("pugixml", "c++", "other", "test", "debian:pugixml", "MIT"),
        ("TinyXML", "c++", "other", "test", "debian:tinyxml", "Zlib"),
        ("Snappy", "c++", "other", "test", "debian:snappy", "BSD-3-Clause"),
        ("googletest", "c++", "other", "test", "debian:googletest", "BSD-3-Clause"),
        # --- go
        ("go math/big", "go", "math", "train", GO + "src/math/big", "BSD-3-Clause"),
        ("go net/http", "go", "other", "train", GO + "src/net/http", "BSD-3-Clause"),
        ("testify", "go", "other", "train", "deb:golang-github-stretchr-testify-dev", "MIT"),
        ("meeus", "go", "math", "train", "git:soniakeys+meeus/v3", "MIT"),
        ("BurntSushi toml", "go", "other", "train", "deb:golang-github-burntsushi-toml-dev", "MIT"),
        ("yaml.v3", "go", "other", "calibrate", "deb:golang-gopkg-yaml.v3-dev", "MIT and Apache-2.0"),
        ("go math/cmplx", "go", "math", "calibrate", GO + "src/math/cmplx", "BSD-3-Clause"),
        ("bigfloat", "go", "math", "calibrate", "git:ALTree+bigfloat/exp.go,log.go,misc.go,pow.go,exp_test.go,log_test.go,"
         "misc_test.go,pow_test.go", "MIT"),
        ("go encoding/xml", "go", "other", "calibrate", GO + "src/encoding/xml", "BSD-3-Clause"),
        ("go-moremath", "go", "math", "calibrate", _git("aclements+go-moremath", "", "fit", "mathx", "stats", "vec"),
         "BSD-3-Clause"),
        ("go-dsp", "go", "math", "calibrate", _git("mjibson+go-dsp", "", "fft", "spectral", "window", "dsputils"), "ISC"),
        ("cast", "go", "other", "calibrate", "deb:golang-github-spf13-cast-dev", "MIT"),
        ("mapstructure", "go", "other", "calibrate", "deb:golang-github-mitchellh-mapstructure-dev", "MIT"),
        ("shellquote", "go", "other", "calibrate", "deb:golang-github-kballard-go-shellquote-dev", "MIT"),
        ("go math", "go", "math", "test", GO + "src/math,-src/math/big,-src/math/cmplx", "BSD-3-Clause"),
        ("bigfft", "go", "math", "test", "deb:golang-github-remyoudompheng-bigfft-dev", "BSD-3-Clause"),
        ("go encoding/json, archive/tar", "go", "other", "test", GO + "src/encoding/json,src/archive/tar",
         "BSD-3-Clause"),
        ("go sort, container", "go", "other", "test", GO + "src/sort,src/container", "BSD-3-Clause"),
        ("pflag", "go", "other", "test", "deb:golang-github-spf13-pflag-dev", "BSD-3-Clause"),
        ("go-humanize", "go", "other", "test", "deb:golang-github-dustin-go-humanize-dev", "MIT"),
        ("color", "go", "other", "test", "deb:golang-github-fatih-color-dev", "MIT"),
        ("gorilla websocket", "go", "other", "test", "deb:golang-github-gorilla-websocket-dev", "BSD-2-Clause"),
        ("google uuid", "go", "other", "test", "deb:golang-github-google-uuid-dev", "BSD-3-Clause"),
        # --- java
        ("commons-math3", "java", "math", "train", "debian:commons-math3", "Apache-2.0"),
        ("commons-io", "java", "other", "train", "debian:commons-io", "Apache-2.0"),
        ("commons-compress", "java", "other", "train", "debian:libcommons-compress-java", "Apache-2.0"),
        ("Commons Statistics", "java", "math", "train", _git(
            "apache+commons-statistics", "commons-statistics-", "descriptive", "distribution", "inference", "interval",
            "ranking", "regression"), "Apache-2.0"),
        ("JLAPACK", "java", "math", "calibrate", "debian:jlapack", "BSD-3-Clause"),
        ("Commons Numbers", "java", "math", "calibrate", _git(
            "apache+commons-numbers", "commons-numbers-", "angle", "arrays", "combinatorics", "complex", "core", "field",
            "fraction", "gamma", "primes", "quaternion", "rootfinder"), "Apache-2.0"),
        ("Commons Geometry", "java", "math", "calibrate", _git(
            "apache+commons-geometry", "commons-geometry-", "core", "enclosing", "euclidean", "spherical"), "Apache-2.0"),
        ("JTS algorithms", "java", "math", "calibrate", "debian:jts/" + ",".join(
            f"modules/core/src/main/java/org/locationtech/jts/{part}" for part in ("algorithm", "math")),
         "EPL-2.0 or EDL-1.0"),
        ("commons-configuration", "java", "other", "calibrate", "debian:commons-configuration/src/main", "Apache-2.0"),
        ("commons-pool", "java", "other", "calibrate", "debian:commons-pool/src/java", "Apache-2.0"),
        ("jline", "java", "other", "calibrate", "debian:jline/src/src/main", "BSD-3-Clause"),
        ("jama", "java", "math", "test", "debian:jama", "public domain"),
        ("mtj", "java", "math", "test", "debian:mtj", "LGPL-3.0"),
        ("MathPiper", "java", "math", "test", "debian:mathpiper", "GPL-2.0"),
        ("Algorithms (W. Fiset) math", "java", "math", "test", _git(
            "williamfiset+Algorithms", _FISET, "math", "linearalgebra", "geometry"), "MIT"),
        ("jackson-core", "java", "other", "test", "debian:jackson-core", "Apache-2.0"),
        ("commons-codec", "java", "other", "test", "debian:libcommons-codec-java", "Apache-2.0"),
        ("commons-csv", "java", "other", "test", "debian:commons-csv", "Apache-2.0"),
        ("commons-collections", "java", "other", "test", "debian:libcommons-collections3-java", "Apache-2.0"),
        ("jsoup", "java", "other", "test", "debian:jsoup", "MIT"),
        ("joda-time", "java", "other", "test", "debian:libjoda-time-java", "Apache-2.0"),
        ("Algorithms (W. Fiset) other", "java", "other", "test", _git(
            "williamfiset+Algorithms", _FISET, "datastructures", "sorting", "search", "strings"), "MIT"),
        # --- r
        ("polynom", "r", "math", "train", "debian:r-cran-polynom", "GPL-2.0"),
        ("DEoptim", "r", "math", "train", "debian:r-cran-deoptim", "GPL-2.0"),
        ("contfrac", "r", "math", "train", "debian:r-cran-contfrac", "GPL-2.0"),
        ("httr", "r", "other", "train", "debian:r-cran-httr", "MIT"),
        ("stringr", "r", "other", "train", "debian:r-cran-stringr", "MIT"),
        ("quadprog", "r", "math", "calibrate", "debian:r-cran-quadprog", "GPL-2.0"),
        ("matrixcalc", "r", "math", "calibrate", "git:cran+matrixcalc/R", "GPL-2.0"),
        ("withr", "r", "other", "calibrate", "debian:r-cran-withr", "MIT"),
        ("curl (R)", "r", "other", "calibrate", "debian:r-cran-curl", "MIT"),
        ("R6", "r", "other", "calibrate", "debian:r-cran-r6", "MIT"),
        ("numDeriv", "r", "math", "test", "debian:r-cran-numderiv", "GPL-2.0"),
        ("hypergeo", "r", "math", "test", "debian:r-cran-hypergeo", "GPL-2.0"),
        ("elliptic", "r", "math", "test", "debian:r-cran-elliptic", "GPL-2.0"),
        ("orthopolynom", "r", "math", "test", "debian:r-cran-orthopolynom", "GPL-2.0"),
        ("gsl (R)", "r", "math", "test", "debian:r-cran-gsl", "GPL-2.0"),
        ("magrittr", "r", "other", "test", "debian:r-cran-magrittr", "MIT"),
        ("jsonlite", "r", "other", "test", "debian:r-cran-jsonlite", "MIT"),
        ("glue", "r", "other", "test", "debian:r-cran-glue", "MIT"),
        ("crayon", "r", "other", "test", "debian:r-cran-crayon", "MIT"),
        ("yaml (R)", "r", "other", "test", "debian:r-cran-yaml", "BSD-3-Clause"),
        # --- rust
        ("num-bigint", "rust", "math", "train", "deb:librust-num-bigint-dev", "MIT or Apache-2.0"),
        ("num-traits", "rust", "math", "train", "deb:librust-num-traits-dev", "MIT or Apache-2.0"),
        ("serde_json", "rust", "other", "train", "deb:librust-serde-json-dev", "MIT or Apache-2.0"),
        ("clap", "rust", "other", "train", "deb:librust-clap-dev", "MIT or Apache-2.0"),
        ("nom", "rust", "other", "train", "deb:librust-nom-dev", "MIT"),
        ("bytes", "rust", "other", "train", "deb:librust-bytes-dev", "MIT"),
        ("glob", "rust", "other", "calibrate", "deb:librust-glob-dev", "MIT or Apache-2.0"),
        ("num-rational", "rust", "math", "calibrate", "deb:librust-num-rational-dev", "MIT or Apache-2.0"),
        ("ndarray", "rust", "math", "calibrate", "git:rust-ndarray+ndarray/src", "MIT or Apache-2.0"),
        ("hex", "rust", "other", "calibrate", "deb:librust-hex-dev", "MIT or Apache-2.0"),
        ("base64", "rust", "other", "calibrate", "deb:librust-base64-dev", "MIT or Apache-2.0"),
        ("itoa", "rust", "other", "calibrate", "deb:librust-itoa-dev", "MIT or Apache-2.0"),
        ("log", "rust", "other", "calibrate", "deb:librust-log-dev", "MIT or Apache-2.0"),
        ("libm", "rust", "math", "test", "deb:librust-libm-dev", "MIT or Apache-2.0"),
        ("num-complex", "rust", "math", "test", "deb:librust-num-complex-dev", "MIT or Apache-2.0"),
        ("num-integer", "rust", "math", "test", "deb:librust-num-integer-dev", "MIT or Apache-2.0"),
        ("approx", "rust", "math", "test", "deb:librust-approx-dev", "Apache-2.0"),
        ("rand_distr", "rust", "math", "test", "deb:librust-rand-distr-dev", "MIT or Apache-2.0"),
        ("euclid", "rust", "math", "test", "deb:librust-euclid-dev", "MIT or Apache-2.0"),
        ("rust-algorithms math", "rust", "math", "test", "git:EbTech+rust-algorithms/src/math", "MIT"),
        ("regex", "rust", "other", "test", "deb:librust-regex-dev", "MIT or Apache-2.0"),
        ("url", "rust", "other", "test", "deb:librust-url-dev", "MIT or Apache-2.0"),
        ("memchr", "rust", "other", "test", "deb:librust-memchr-dev", "MIT or Unlicense"),
        ("bitflags", "rust", "other", "test", "deb:librust-bitflags-dev", "MIT or Apache-2.0"),
        ("once_cell", "rust", "other", "test", "deb:librust-once-cell-dev", "MIT or Apache-2.0"),
        ("smallvec", "rust", "other", "test", "deb:librust-smallvec-dev", "MIT or Apache-2.0"),
        ("rust-algorithms other", "rust", "other", "test",
         _git("EbTech+rust-algorithms", "src/", "string_proc.rs", "range_query", "order.rs", "scanner.rs"), "MIT"),
        # --- c#
        ("OpenTK math", "c#", "math", "train", "debian:opentk/Source/OpenTK/Math,Source/Compatibility/Math", "MIT"),
        ("OpenTK platform", "c#", "other", "train", "debian:opentk/Source/OpenTK/Platform,Source/OpenTK/Input", "MIT"),
        ("Json.NET", "c#", "other", "train", "debian:newtonsoft-json", "MIT"),
        ("NUnit", "c#", "other", "train", "debian:nunit", "MIT"),
        ("Accord.NET math", "c#", "math", "calibrate", "git:accord-net+framework/Sources/Accord.Math", "LGPL-2.1"),
        ("Accord.NET IO and controls", "c#", "other", "calibrate",
         "git:accord-net+framework/Sources/Accord.IO,Sources/Accord.Controls,Sources/Accord.Video", "LGPL-2.1"),
        ("Mono numerics", "c#", "math", "test", "debian:mono/mcs/class/referencesource/System.Numerics,"
         "external/corefx/src/System.Numerics.Vectors/src", "MIT"),
        ("Accord.NET statistics", "c#", "math", "test", "git:accord-net+framework/Sources/Accord.Statistics",
         "LGPL-2.1"),
        ("Mono HTTP and JSON", "c#", "other", "test",
         "debian:mono/mcs/class/System.Net.Http,mcs/class/System.Json.Microsoft", "MIT"),
        ("dbus-sharp", "c#", "other", "test", "debian:dbus-sharp", "MIT"),
        # --- shell
        ("ABS guide math", "shell", "math", "train", "deb:abs-guide/" + ",".join(ABS + n for n in ABS_MATH),
         "public domain"),
        ("ABS guide other", "shell", "other", "train", "deb:abs-guide/" + ",".join(
            [ABS, *("-" + ABS + n for n in ABS_MATH + ABS_UNCLEAR)]), "public domain"),
        ("bash shellmath, bcalc", "shell", "math", "test", "debian:bash/examples/shellmath,examples/scripts/bcalc",
         "GPL-3.0"),
        ("bash examples and support", "shell", "other", "test",
         "debian:bash/examples,support,doc,CWRU,-examples/shellmath,-examples/scripts/bcalc", "GPL-3.0"),
        ("bash-completion", "shell", "other", "train", "debian:bash-completion", "GPL-2.0"),
        ("debootstrap", "shell", "other", "test", "debian:debootstrap", "MIT"),
        # --- sql: PostgreSQL's regression tests and contrib modules, pg-rational, MariaDB's sys schema
        ("postgres numeric tests", "sql", "math", "train",
         regress("numeric", "float8", "int8", "numerology", "geometry", "point", "lseg"), "PostgreSQL"),
        ("pg-rational", "sql", "math", "train", "debian:pg-rational", "MIT"),
        ("postgres other tests", "sql", "other", "train", regress(
            "json", "create_table", "privileges", "triggers", "create_index", "inherit", "update", "copy2"),
         "PostgreSQL"),
        ("MariaDB sys schema", "sql", "other", "train", "debian:mariadb/scripts/sys_schema", "GPL-2.0"),
        ("MariaDB ColumnStore", "sql", "other", "train", "debian:mariadb/storage/columnstore", "GPL-2.0"),
        ("postgres cube", "sql", "math", "calibrate", _contrib("cube"), "PostgreSQL"),
        ("postgres citext", "sql", "other", "calibrate", _contrib("citext"), "PostgreSQL"),
        ("postgres more numeric tests", "sql", "math", "test",
         regress("float4", "int4", "int2", "numeric_big", "line", "box", "polygon", "circle"), "PostgreSQL"),
        ("postgres earthdistance, seg", "sql", "math", "test", _contrib("earthdistance", "seg"), "PostgreSQL"),
        ("postgres more other tests", "sql", "other", "test", regress(
            "jsonb", "alter_table", "rules", "foreign_key", "create_view", "plpgsql", "xml", "sequence"), "PostgreSQL"),
        ("postgres hstore, pg_trgm", "sql", "other", "test", _contrib("hstore", "pg_trgm", "fuzzystrmatch"),
         "PostgreSQL"),
        ("pg_similarity", "sql", "other", "test", "debian:pg-similarity", "BSD-3-Clause"),
    ]
    sources = [_source(name, language, label, role, spec, licence=licence)
               for name, language, label, role, spec, licence in rows]
    for role in ("train", "train", "test"):
        sources += [_source(f"cosmos math ({role})", "mixed", "math", role, cosmos_spec(_COSMOS_MATH, role),
                            licence="GPL-3.0"),
                    _source(f"cosmos sorting, search, strings, data structures ({role})", "mixed", "other", role,
                            cosmos_spec(_COSMOS_OTHER, role), licence="GPL-3.0")]
    return sources


def read_sources(sources: list[CodeSource], work) -> dict[str, list[str]]:
    """Each source fetched and read (``megamath code read``, its files in its language only, every
    language for a collection) into ``work/NAME``: source name → its shards. Read once."""
    from _packages import fetch

    from megamath.pipelines.code import read_code
    from megamath.runtime.executor import SerialExecutor
    from megamath.sources.code_files import CodeReaderConfig

    shards = {}
    for number, source in enumerate(sources, 1):
        specs = hashlib.sha1("\n".join(source.specs).encode()).hexdigest()[:8]  # another spec is another folder
        out = Path(work) / (re.sub(r"[^\w.+-]+", "-", f"{source.role}-{source.name}").strip("-") + f"-{specs}")
        if not (out / "stats.json").is_file():
            paths = [path for spec in source.specs for path in fetch(spec)]
            config = CodeReaderConfig() if source.language == "mixed" else CodeReaderConfig(languages=(source.language,))
            read_code(paths, str(out), SerialExecutor(), config, show_progress=False)
        print(f"\rsources read: {number}/{len(sources)}", end="", flush=True)
        shards[source.name] = [str(path) for path in sorted((out / "data").glob("*.parquet"))]
    print()
    return shards


def scoring_beside_fasttext(model: Path, files: list[tuple[str, str]]) -> None:
    """In one process, CPU seconds, best of 5 interleaved: megamath's scorer over the files (math imports,
    the code normalization, the folded model) beside fastText's own ``predict`` on the model as trained,
    given each file's text with only its whitespace folded (no normalization: the least it could read)."""
    import fasttext

    from megamath.code.normalize import math_imports
    from megamath.code.scorer import FastTextCodeScorer
    from megamath.sources.code_files import language_of

    texts = [text for _, text in files]
    languages = [language_of(path, text.split("\n", 1)[0].encode()) for path, text in files]  # as they were read
    scorer, plain = FastTextCodeScorer(str(model)), fasttext.load_model(str(model))
    runs = {"megamath scorer (imports, normalization, folded model)":
            lambda: scorer.math_scores(texts, languages, [math_imports(t, lang) for t, lang in zip(texts, languages)]),
            "fastText predict on the model as trained, whitespace folded only":
            lambda: plain.predict([" ".join(t.split()) for t in texts], k=-1)}
    best = best_cpu_seconds(runs, 5)
    for name, seconds in best.items():
        print(f"  in process, {name}: {len(texts) / seconds:,.0f} files/s")
