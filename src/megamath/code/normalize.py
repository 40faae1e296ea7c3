"""What a code classifier reads: a file's tokens with identifiers split into words, and its math imports.

``normalize_code``: identifiers split at camelCase and snake_case into lower-case words
(``getElementById`` → ``get element by id``, ``MAX_ITER`` → ``max iter``), numbers folded to ``0``,
comments and strings kept as the words they hold, operators (``**``, ``->``, ``+=``...) and brackets as
tokens of their own. ``math_imports``: the math libraries a file imports or includes (``sympy``,
``numpy.linalg``, ``<cmath>``, ``Eigen``, ``math/big``, ``num-traits``...), by language: a rule feature
(``mathimport`` tokens before the text, with ``rule_feature``) or a prefilter.
"""

from __future__ import annotations

import re

NORMALIZE_VERSION = 1

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d[\d_]*(?:\.\d+)?(?:[eE][-+]?\d+)?|\*\*=?|//=?|<<=?|>>=?|->|=>|::|"
                    r"[-+*/%&|^!=<>]=|&&|\|\||\+\+|--|[^\w\s]")
_WORD_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

# (language, pattern whose group 1 names a math library the file imports or includes)
_IMPORTS = {
    "python": re.compile(r"^\s*(?:from|import)\s+((?:numpy|scipy|sympy|mpmath|math|cmath|statistics|fractions|decimal|"
                         r"numbers|sage|gmpy2|networkx|numba)(?:\.\w+)*)", re.M),
    "c": re.compile(r"#\s*include\s*[<\"]((?:math|complex|tgmath|fenv|gmp|mpfr|fftw3|cblas|lapacke|gsl/\w+)\.h)[>\"]"),
    "c++": re.compile(r"#\s*include\s*[<\"]((?:cmath|complex|numeric|valarray|random|numbers|math\.h|Eigen/\w+|"
                      r"boost/math/[\w/.]+|armadillo|gmpxx\.h|gsl/\w+\.h))[>\"]"),
    "c#": re.compile(r"^\s*using\s+((?:System\.Numerics|MathNet\.Numerics|Accord\.Math|OpenTK\.Mathematics)[\w.]*)\s*;", re.M),
    "go": re.compile(r"\"((?:math(?:/\w+)?)|gonum\.org/v1/gonum/\w+)\""),
    "java": re.compile(r"^\s*import\s+(?:static\s+)?((?:java\.math|java\.lang\.Math|org\.apache\.commons\.math3?|Jama|"
                       r"org\.ejml|org\.la4j|cern\.colt)[\w.*]*)\s*;", re.M),
    "javascript": re.compile(r"(?:require\(\s*|from\s+|import\s+)['\"]((?:mathjs|simple-statistics|numeric|decimal\.js|"
                             r"big\.js|bignumber\.js|fraction\.js|ml-matrix|complex\.js|nerdamer|algebrite)[\w/.-]*)['\"]"),
    "r": re.compile(r"(?:library|require|requireNamespace)\(\s*['\"]?((?:pracma|numDeriv|Matrix|deSolve|expm|gmp|Rmpfr|"
                    r"polynom|MASS|optimx|cubature|mvtnorm)\b)"),
    "rust": re.compile(r"^\s*(?:use|extern\s+crate)\s+((?:num|num_traits|num_bigint|num_complex|num_rational|"
                       r"num_integer|nalgebra|ndarray|libm|statrs|rug)\b[\w:]*)", re.M),
    "shell": re.compile(r"(?:^|[|;&`(]\s*)((?:bc|dc)\b(?:\s+-l)?)", re.M),
    "sql": re.compile(r"\b((?:SQRT|POWER|EXP|LN|LOG10|LOG|SIN|COS|TAN|ATAN2|STDDEV|VARIANCE|CORR|REGR_SLOPE)\s*)\(", re.I),
}


def split_identifier(name: str) -> list[str]:
    """``getHTTPResponse2`` → ``get http response 2``, ``max_iter`` → ``max iter``, lower case."""
    return [part.lower() for part in _WORD_PARTS.findall(name)]


def normalize_code(text: str) -> str:
    """One line of tokens (see the module docstring)."""
    out: list[str] = []
    for token in _TOKEN.findall(text):
        first = token[0]
        if first.isalpha() or first == "_":
            out += split_identifier(token) or ["_"]
        elif first.isdigit():
            out.append("0")
        else:
            out.append(token)
    return " ".join(out)


def math_imports(text: str, language: str) -> list[str]:
    """The math libraries ``text`` (in ``language``) imports or includes, in order, each once."""
    pattern = _IMPORTS.get(language)
    if pattern is None:
        return []
    return list(dict.fromkeys(match.strip() for match in pattern.findall(text)))


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
