"""AsciiMath → LaTeX with py-asciimath's translator (one instance per process)."""

from __future__ import annotations

import logging
from functools import lru_cache

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _translator():
    from py_asciimath.translator.translator import ASCIIMath2Tex

    logging.getLogger("py_asciimath").setLevel(logging.WARNING)
    return ASCIIMath2Tex(log=False, inplace=True)


@lru_cache(maxsize=4096)
def asciimath_to_latex(expression: str) -> str | None:
    """LaTeX for an AsciiMath expression, or None when it does not parse."""
    expression = expression.strip()
    if not expression:
        return None
    try:
        tex = _translator().translate(expression, displaystyle=False, from_file=False, pprint=False)
    except Exception as exc:  # the translator raises lark's many error types on bad input
        log.debug("AsciiMath %r did not parse: %s", expression[:80], exc)
        return None
    return tex.strip().strip("$").strip() or None
