"""Text+code blocks: for each computation of a math document worth a scratchpad, the model writes
the conditions, the expression in LaTeX, the stated result and a standalone Python snippet; the
snippet runs in the sandbox and the block is kept only when it runs cleanly **and** its printed
result reproduces the stated one (:func:`megamath.synth.verify.verify`).

Each block ends as one outcome, counted as ``blocks_<outcome>``: ``syntax_error``, ``ast_blocked``,
``runtime_error``, ``timeout``, ``memory``, ``mismatch``, ``unverifiable`` (a result that cannot be
checked is never passed) or ``verified``; an answer's block without a result or code is
``blocks_parse_failed``. The verified blocks of one document are packed into one training sample,
``{document id}/blocks``; a document without any is dropped as ``no_blocks`` (the model found no
computation) or ``no_verified_block``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from megamath.llm.client import Completion
from megamath.llm.parsers import MalformedAnswer, check_content, unfenced
from megamath.llm.stage import GenerationConfig
from megamath.runtime.stage import Drop, Record
from megamath.synth.sandbox import SandboxConfig
from megamath.synth.stage import SandboxStage
from megamath.synth.verify import verify


@dataclass(frozen=True)
class Block:
    conditions: str
    expression: str
    result: str
    code: str


_NO_BLOCKS = re.compile(r"^\W*no[_ ]blocks\W*$", re.IGNORECASE)
_BLOCK = re.compile(r"<block>(.*?)(?:</block>|(?=<block>)|\Z)", re.DOTALL | re.IGNORECASE)
_CODE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_LINE = {name: re.compile(rf"^\s*{name}\s*:\s*(.*?)\s*$", re.IGNORECASE | re.MULTILINE)
         for name in ("conditions", "expression", "result")}


def parse_blocks(answer: str) -> tuple[list[Block], int]:
    """(the blocks of an answer, how many of its blocks lack a result or code); ``NO_BLOCKS`` is ([], 0)."""
    text = check_content(answer)
    if _NO_BLOCKS.match(unfenced(text)):
        return [], 0
    bodies = _BLOCK.findall(text)
    if not bodies:
        raise MalformedAnswer("no_block", text[:80])
    blocks, broken = [], 0
    for body in bodies:
        code = _CODE.search(body)
        prose = _CODE.sub("", body)
        fields = {name: (m.group(1) if (m := pattern.search(prose)) else "") for name, pattern in _LINE.items()}
        if code is None or not code.group(1).strip() or not fields["result"]:
            broken += 1
            continue
        blocks.append(Block(fields["conditions"], fields["expression"], fields["result"], code.group(1).strip()))
    if not blocks:
        raise MalformedAnswer("blocks_incomplete", f"{broken} block(s) without a result or code")
    return blocks, broken


def packed(blocks: list[tuple[Block, str]]) -> str:
    """One training sample from verified blocks and their printed output. What a snippet printed (and
    what the model wrote) is data: terminal escapes and control characters are taken out, and each fence
    is longer than any run of backticks inside it, so an output cannot close its fence and pass off text
    as code that ran."""
    parts = []
    for block, output in blocks:
        lines = [printable(block.conditions)] if block.conditions else []
        if block.expression:
            lines.append(f"Expression: {printable(block.expression)}")
        lines += [_fenced("python", printable(block.code)), _fenced("output", printable(output).strip()),
                  f"Result: {printable(block.result)}"]
        parts.append("\n\n".join(lines))
    return "\n\n---\n\n".join(parts)


# terminal escape sequences (CSI, OSC, and two-character ones), then every control character but
# newline and tab, and the Unicode line and paragraph separators (line breaks to some readers only)
_TERMINAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def printable(output: str) -> str:
    """``output`` without terminal escapes or control characters (newline and tab kept; a carriage
    return before a newline dropped, any other one made a newline)."""
    text = _TERMINAL_ESCAPE.sub("", output).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(lambda m: "\n" if m.group() in "\u2028\u2029" else "", text)


def _fenced(info: str, body: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


@dataclass(frozen=True)
class BlocksConfig:
    """``generation.prompt``: a block-writing prompt (``math_blocks`` or a file of the same form);
    long documents are read in pieces of ``generation.max_input_chars``. ``rel_tol``: the relative
    tolerance of numeric results. ``sandbox``: limits per snippet."""

    generation: GenerationConfig = field(default_factory=lambda: GenerationConfig("", "math_blocks", max_tokens=2048))
    rel_tol: float = 1e-6
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)


class MathBlocks(SandboxStage):
    name = "math_blocks"
    answer = "blocks"
    long_inputs = "chunk"
    malformed_prefix = "parse_failed_"

    def parse(self, record: Record, text: str, completion: Completion) -> tuple[list[Block], int]:
        return parse_blocks(completion.text)

    def finish(self, record: Record, values: list[tuple[list[Block], int]]) -> Record | Drop:
        outcomes: Counter = Counter(parse_failed=sum(broken for _, broken in values))
        verified = []
        for block in (b for blocks, _ in values for b in blocks):
            outcome, result = self.execute(block.code)
            if outcome == "ok":
                outcome = verify(block.result, result.stdout, self.sandbox, self.config.rel_tol).outcome
                if outcome == "verified":
                    verified.append((block, result.stdout))
            outcomes[outcome] += 1
        outcomes = +outcomes
        self.counters.update({f"blocks_{outcome}": n for outcome, n in outcomes.items()})
        if not verified:
            return Drop(record, "no_verified_block" if outcomes else "no_blocks")
        return {"id": f"{record.get('id')}/blocks", "source": record.get("source"), "text": packed(verified),
                "meta": {"crawl": (record.get("meta") or {}).get("crawl"),
                         "synth": {"kind": "blocks", "from": {"id": record.get("id"), "source": record.get("source")},
                                   "blocks": dict(outcomes), "steps": [self.provenance()]}}}
