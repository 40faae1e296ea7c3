"""AsciiMath → LaTeX with py-asciimath's translator (one instance per process)."""

from __future__ import annotations

import logging
import sys
from functools import lru_cache

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _translator():
    """The translator, imported so that the user's logging is left as it was.

    py-asciimath's modules call ``logging.basicConfig(level=DEBUG)`` on import and log through the
    module-level ``logging.info``, which gives the root logger a handler whenever it has none: the
    import is undone on the root logger, and the modules' ``logging`` is pointed at a logger of their own.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        from py_asciimath.translator.translator import ASCIIMath2Tex
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
    quiet = logging.getLogger("py_asciimath")
    quiet.setLevel(logging.WARNING)
    for name, module in list(sys.modules.items()):
        if name.startswith("py_asciimath") and getattr(module, "logging", None) is logging:
            module.logging = quiet  # they call only .info/.warning/.debug at run time
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
