"""The base of synthesis stages whose answers are code: the LLM stage, plus a sandbox in which the
code runs and the names its outcomes have in the funnel.

Outcomes: ``syntax_error`` and ``ast_blocked`` (the prefilter's verdict, before any process is spent),
``runtime_error`` (an exception, a non-zero exit, a signal, a snippet that took the interpreter down),
``timeout``, ``memory``, and ``ok``. The sandbox is a :class:`~megamath.runtime.stage.resource` of the
worker that uses it, started on the first snippet and stopped when the stage's input ends.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from megamath.llm.stage import LLMStage
from megamath.runtime.stage import Drop, Record, StageConfigError, resource
from megamath.synth.prefilter import ALLOWED_IMPORTS, prefilter
from megamath.synth.sandbox import Sandbox, SandboxError, SnippetResult

_OUTCOMES = {"ok": "ok", "error": "runtime_error", "killed": "runtime_error", "sandbox_error": "runtime_error",
             "timeout": "timeout", "memory": "memory"}


class SandboxStage(LLMStage):
    """Subclasses keep a :class:`~megamath.synth.sandbox.SandboxConfig` in ``config.sandbox``."""

    allowed_imports: frozenset[str] = ALLOWED_IMPORTS

    @resource
    def sandbox(self) -> Sandbox:
        return Sandbox(self.config.sandbox)

    def prepare(self) -> None:
        super().prepare()
        with Sandbox(self.config.sandbox) as box:
            try:
                answer = box.run("print(6 * 7)")
            except SandboxError as exc:
                raise StageConfigError(f"{self.name}: {exc}") from None
        if answer.outcome != "ok" or answer.stdout.strip() != "42":
            raise StageConfigError(f"{self.name}: the sandbox does not run Python ({answer.outcome}: "
                                   f"{answer.stderr.strip()[-200:]})")

    def execute(self, code: str) -> tuple[str, SnippetResult | None]:
        """(outcome, the run's result when there was one); the prefilter's detailed reason is counted
        as ``ast_blocked:<reason>``."""
        reason = prefilter(code, allowed_imports=self.allowed_imports)
        if reason == "syntax_error":
            return "syntax_error", None
        if reason is not None:
            self.counters[f"ast_blocked:{reason}"] += 1
            return "ast_blocked", None
        result = self.sandbox.run(code)
        return _OUTCOMES[result.outcome], result

    def __call__(self, records: Iterable[Record]) -> Iterator[Record | Drop]:
        try:
            yield from super().__call__(records)
        finally:
            self.sandbox.close()
