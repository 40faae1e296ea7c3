"""Code from the other languages of the code pipeline, translated into Python.

The model answers with one ```python block, or ``UNTRANSLATABLE: reason`` (dropped as
``untranslatable``). The translation must parse (else ``syntax_error``); where it has a main block or
tests (``if __name__ == "__main__":``, ``test_`` functions, ``unittest``) they run in the sandbox and
must end cleanly (else ``ast_blocked``, ``runtime_error``, ``timeout`` or ``memory``). A file longer
than ``generation.max_input_chars`` is dropped as ``too_long`` (half a program is no program);
:class:`NeedsTranslation` passes on only files that are not Python already.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from megamath.llm.client import Completion
from megamath.llm.parsers import MalformedAnswer, check_content, unfenced
from megamath.llm.stage import GenerationConfig
from megamath.runtime.stage import Drop, Filter, Record
from megamath.synth.prefilter import ALLOWED_IMPORTS
from megamath.synth.sandbox import SandboxConfig
from megamath.synth.stage import SandboxStage

_UNTRANSLATABLE = re.compile(r"^\W*untranslatable\b\W*(.*)", re.IGNORECASE | re.DOTALL)
_FENCE = re.compile(r"```[ \t]*(\w*)[ \t]*\n(.*?)```", re.DOTALL)

# what translated programs use besides the math modules: the sandbox, not this list, is the boundary
TRANSLATION_IMPORTS = ALLOWED_IMPORTS | {"typing", "dataclasses", "enum", "abc", "array", "struct", "copy",
                                         "unittest", "textwrap", "sys", "cmath", "numbers", "time"}


def parse_translation(answer: str) -> str | None:
    """The code of the answer's one Python block, or None for the ``UNTRANSLATABLE`` verdict."""
    text = check_content(answer)
    if _UNTRANSLATABLE.match(unfenced(text)):
        return None
    blocks = [code for language, code in _FENCE.findall(text) if language.lower() in ("python", "py", "")]
    if not blocks:
        raise MalformedAnswer("no_code_block", text[:80])
    if len(blocks) > 1:
        raise MalformedAnswer("several_code_blocks", str(len(blocks)))
    if not blocks[0].strip():
        raise MalformedAnswer("empty")
    return blocks[0].strip() + "\n"


def runs_something(tree: ast.Module) -> bool:
    """Whether a module has a main block or tests to run."""
    for node in tree.body:
        if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test) and "__main__" in ast.unparse(node.test):
            return True
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name.lower().startswith("test"):
            return True
    return any(isinstance(n, (ast.Import, ast.ImportFrom)) and "unittest" in ast.unparse(n) for n in tree.body)


@dataclass(frozen=True)
class TranslateConfig:
    """``generation.prompt``: a translation prompt with the ``language`` and ``path`` fields
    (``code_to_python`` or a file of the same form). ``sandbox``: limits for running a main block."""

    generation: GenerationConfig = field(default_factory=lambda: GenerationConfig("", "code_to_python", max_tokens=4096))
    sandbox: SandboxConfig = field(default_factory=lambda: SandboxConfig(wall_seconds=10.0, cpu_seconds=8))


class CodeTranslate(SandboxStage):
    name = "code_translate"
    answer = "python"
    long_inputs = "drop"
    malformed_prefix = "parse_failed_"
    allowed_imports = TRANSLATION_IMPORTS

    def parse(self, record: Record, text: str, completion: Completion) -> str | None:
        return parse_translation(completion.text)

    def finish(self, record: Record, values: list[str | None]) -> Record | Drop:
        code = values[0]
        if code is None:
            return Drop(record, "untranslatable")
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            return Drop(record, "syntax_error")
        ran = None
        if runs_something(tree):
            ran, _ = self.execute(code)
            if ran != "ok":
                return Drop(record, ran)
        self.counters["translated_and_ran" if ran else "translated_without_main"] += 1
        original = (record.get("meta") or {}).get("code") or {}
        path = str(PurePosixPath(original.get("path") or "translated").with_suffix(".py"))
        return {"id": f"{record.get('id')}/python", "source": record.get("source"), "text": code,
                "meta": {"code": {**original, "language": "python", "path": path, "bytes": len(code.encode())},
                         "synth": {"kind": "translate", "from": {"id": record.get("id"), "source": record.get("source"),
                                                                 "language": original.get("language")},
                                   "ran": ran, "steps": [self.provenance()]}}}



class NeedsTranslation(Filter):
    """Code files that are not Python yet (``already_python``; a record without a language is
    ``not_code``)."""

    name = "needs_translation"

    def filter(self, record: Record) -> tuple[bool, str]:
        language = ((record.get("meta") or {}).get("code") or {}).get("language")
        if not language:
            return False, "not_code"
        return language != "python", "already_python"
