"""A cheap first look at a snippet before it is run: the reason it is not worth running, or None.

This is not the security boundary (names can be computed: ``getattr(builtins, 'op' + 'en')``); the
sandbox is. It saves a sandbox run on snippets no scratchpad computation needs — imports beyond the
math libraries, files, processes, introspection — and records why (``ast_blocked`` in the funnel, with
the reason), and it reports ``syntax_error`` before a process is spent on it.
"""

from __future__ import annotations

import ast

ALLOWED_IMPORTS = frozenset({"math", "cmath", "fractions", "decimal", "statistics", "itertools", "functools",
                             "collections", "random", "re", "string", "operator", "heapq", "bisect", "datetime",
                             "numbers", "numpy", "sympy", "scipy", "mpmath"})
_CALLS = frozenset({"open", "eval", "exec", "compile", "__import__", "input", "breakpoint", "globals", "locals",
                    "vars", "getattr", "setattr", "delattr"})


def prefilter(code: str, max_chars: int = 20_000, allowed_imports: frozenset[str] = ALLOWED_IMPORTS) -> str | None:
    """``syntax_error``, ``too_long``, ``import:<module>`` (a module outside ``allowed_imports``),
    ``call:<name>``, ``dunder:<name>``, or None."""
    if len(code) > max_chars:
        return "too_long"
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return "syntax_error"
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or "."]
            for name in names:
                if name.split(".")[0] not in allowed_imports:
                    return f"import:{name}"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CALLS:
            return f"call:{node.func.id}"
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr.endswith("__"):
            return f"dunder:{node.attr}"
        elif isinstance(node, ast.Name) and node.id.startswith("__") and node.id.endswith("__") \
                and node.id not in ("__name__",):
            return f"dunder:{node.id}"
    return None
