"""What a code classifier reads: a file's tokens with identifiers split into words, and its math imports.

``normalize_code``: identifiers split at camelCase and snake_case into lower-case words, each word keeping
the digits that end it (``getElementById`` → ``get element by id``, ``MAX_ITER`` → ``max iter``,
``log10`` and ``float32`` stay), numbers folded to ``0`` (a digit run after an underscore too:
``x_1`` → ``x 0``), comments and strings kept as the words they hold, operators (``**``, ``->``,
``+=``...) and brackets as tokens of their own, an identifier of underscores alone none. ``math_imports``: the math libraries a file imports or includes (``sympy``,
``numpy.linalg``, ``<cmath>``, ``Eigen``, ``math/big``, ``num-traits``...), by language: a rule feature
(``mathimport`` tokens before the text, with ``rule_feature``) or a prefilter.
"""

from __future__ import annotations

import re

try:
    from megamath.code._tokens import code_tokens
except ImportError as exc:  # a checkout on the path without an install
    raise ImportError("megamath's compiled code tokenizer (megamath/code/_tokens.c) is not built: install megamath "
                      "with pip (`pip install -e .` in a checkout; it needs a C compiler)") from exc

NORMALIZE_VERSION = 2

# (language, pattern whose group 1 names a math library the file imports or includes); a statement at the
# start of a line is found from its newline (the text gets one in front), which the engine scans for fast
_IMPORTS = {
    "python": re.compile(r"\n\s*(?:from|import)\s+((?:numpy|scipy|sympy|mpmath|math|cmath|statistics|fractions|decimal|"
                         r"numbers|sage|gmpy2|networkx|numba)(?:\.\w+)*)"),
    "c": re.compile(r"#\s*include\s*[<\"]((?:math|complex|tgmath|fenv|gmp|mpfr|fftw3|cblas|lapacke|gsl/\w+)\.h)[>\"]"),
    "c++": re.compile(r"#\s*include\s*[<\"]((?:cmath|complex|numeric|valarray|random|numbers|math\.h|Eigen/\w+|"
                      r"boost/math/[\w/.]+|armadillo|gmpxx\.h|gsl/\w+\.h))[>\"]"),
    "c#": re.compile(r"\n\s*using\s+((?:System\.Numerics|MathNet\.Numerics|Accord\.Math|OpenTK\.Mathematics)[\w.]*)\s*;"),
    "go": re.compile(r"\"((?:math(?:/\w+)?)|gonum\.org/v1/gonum/\w+)\""),
    "java": re.compile(r"\n\s*import\s+(?:static\s+)?((?:java\.math|java\.lang\.Math|org\.apache\.commons\.math3?|Jama|"
                       r"org\.ejml|org\.la4j|cern\.colt)[\w.*]*)\s*;"),
    "javascript": re.compile(r"(?:require\(\s*|from\s+|import\s+)['\"]((?:mathjs|simple-statistics|numeric|decimal\.js|"
                             r"big\.js|bignumber\.js|fraction\.js|ml-matrix|complex\.js|nerdamer|algebrite)[\w/.-]*)['\"]"),
    "r": re.compile(r"(?:library|require|requireNamespace)\(\s*['\"]?((?:pracma|numDeriv|Matrix|deSolve|expm|gmp|Rmpfr|"
                    r"polynom|MASS|optimx|cubature|mvtnorm)\b)"),
    "rust": re.compile(r"\n\s*(?:use|extern\s+crate)\s+((?:num|num_traits|num_bigint|num_complex|num_rational|"
                       r"num_integer|nalgebra|ndarray|libm|statrs|rug)\b[\w:]*)"),
    "shell": re.compile(r"(?:^|[|;&`(]\s*)((?:bc|dc)\b(?:\s+-l)?)", re.M),
    "sql": re.compile(r"\b((?:SQRT|POWER|EXP|LN|LOG10|LOG|SIN|COS|TAN|ATAN2|STDDEV|VARIANCE|CORR|REGR_SLOPE)\s*)\(", re.I),
}


def normalize_code(text: str) -> str:
    """One line of tokens (see the module docstring; ``_tokens.c``'s header gives the grammar)."""
    return code_tokens(text)


def math_imports(text: str, language: str) -> list[str]:
    """The math libraries ``text`` (in ``language``) imports or includes, in order, each once."""
    pattern = _IMPORTS.get(language)
    if pattern is None:
        return []
    return list(dict.fromkeys(match.strip() for match in pattern.findall("\n" + text)))


def classifier_text(text: str, language: str, rule_feature: bool = True, imports: list[str] | None = None) -> str:
    """The line a code classifier reads: the language, a ``mathimport`` token per math library imported
    (with ``rule_feature``; ``imports``: :func:`math_imports` of the text, when the caller has it), then
    the normalized code."""
    if rule_feature and imports is None:
        imports = math_imports(text, language)
    marks = ["mathimport"] * len(imports) if rule_feature else []
    return " ".join([f"lang_{language}", *marks, normalize_code(text)])


def as_classifier_line(line: str) -> str:
    """What a code model reads of a line built by :func:`classifier_text` (the caller knows each file's
    language, the model does not): the line itself, on one line."""
    return " ".join(line.split())
