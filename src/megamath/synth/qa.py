"""Q&A pairs from web pages in two LLM steps: *extract* the problems a page holds (with the page's
answer where it gives one), then *refine* each into a solution a student can follow.

Extraction yields one record per problem, ``{page id}/qa<n>``; a page without a problem is dropped as
``no_qa``. Each record keeps its question and answer in ``meta.synth``, with the page it came from and
the versioned prompts that made it. The parsers reject what a model gets wrong in ways that can be
told from the text: no ``Question:``, a question that leans on the page it was taken from ("as shown
above", "in the figure"), a refined question that is not the original one, a solution that uses none
of the question's numbers or loses the page's final result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from megamath.llm.client import Completion
from megamath.llm.parsers import MalformedAnswer, check_content, unfenced
from megamath.llm.prompts import PromptError
from megamath.llm.stage import GenerationConfig, LLMStage
from megamath.runtime.stage import Drop, Record


@dataclass(frozen=True)
class QAPair:
    question: str
    answer: str | None  # None: the page gives no answer


_NO_QA = re.compile(r"^\W*no[_ ]qa\W*$", re.IGNORECASE)
# a label the model repeated ("Question: Question: ...") is one label
_FIELD = re.compile(r"^(?:[ \t]*(?:\*\*)?(question|answer)(?:\*\*)?[ \t]*:[ \t]*(?:\*\*)?[ \t]*)+",
                    re.IGNORECASE | re.MULTILINE)
_NONE = re.compile(r"^\W*(?:none|n/?a|not given|no answer)\W*$", re.IGNORECASE)
_LEANS_ON_PAGE = re.compile(
    r"\b(?:as (?:shown|given|stated|described|mentioned) (?:above|below|earlier|in the (?:text|figure|table|page))"
    r"|(?:in|from|see|refer to) the (?:figure|diagram|picture|image|graph|table|chart|page|article|text|passage|video)"
    r"|the (?:above|previous|preceding|following) (?:figure|diagram|problem|question|example|table|equation)"
    r"|(?:figure|diagram|picture|image|graph|table|chart) (?:above|below)"
    r"|(?:shown|given|listed) (?:above|below))\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")


def _fields(text: str) -> list[tuple[str, str]]:
    """The ``Question:`` / ``Answer:`` fields of ``text`` in order, as (name, value)."""
    marks = list(_FIELD.finditer(text))
    return [(mark.group(1).lower(), text[mark.end(): marks[i + 1].start() if i + 1 < len(marks) else len(text)]
             .strip().strip("-").strip()) for i, mark in enumerate(marks)]


def parse_qa(answer: str) -> list[QAPair]:
    """The problems of an extraction answer ([] for the ``NO_QA`` verdict)."""
    text = check_content(answer)
    if _NO_QA.match(unfenced(text)):
        return []
    pairs, question = [], None
    for name, value in _fields(text):
        if name == "question":
            if question is not None:
                pairs.append(QAPair(question, None))
            question = value
        elif question is not None:
            pairs.append(QAPair(question, None if _NONE.match(value) or not value else value))
            question = None
    if question is not None:
        pairs.append(QAPair(question, None))
    if not pairs:
        raise MalformedAnswer("no_question", text[:80])
    for pair in pairs:
        if not pair.question:
            raise MalformedAnswer("empty_question")
        if _LEANS_ON_PAGE.search(pair.question):
            raise MalformedAnswer("leans_on_page", _LEANS_ON_PAGE.search(pair.question).group(0))
    return pairs


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def _squashed(text: str) -> str:
    return " ".join(text.split())


def parse_solution(answer: str, pair: QAPair, min_number_share: float) -> str:
    """The solution of a refinement answer, checked against the pair it refines."""
    fields = dict(_fields(check_content(answer)))
    solution = fields.get("answer", "")
    if "question" not in fields or not solution:
        raise MalformedAnswer("no_solution")
    if _squashed(fields["question"]) != _squashed(pair.question):
        raise MalformedAnswer("question_changed")
    given = _numbers(pair.question)
    used = given & _numbers(solution)
    if given and len(used) < min_number_share * len(given):
        raise MalformedAnswer("drops_question_numbers", f"{len(used)} of {len(given)}")
    if pair.answer and (stated := _NUMBER.findall(pair.answer)):
        if stated[-1].replace(",", "") not in _numbers(solution):
            raise MalformedAnswer("answer_changed", stated[-1])
    return solution


def qa_text(question: str, answer: str | None) -> str:
    return f"Question: {question}\n\nAnswer: {answer}" if answer else f"Question: {question}"


@dataclass(frozen=True)
class QAExtractConfig:
    """``generation.prompt``: an extraction prompt (``qa_extract`` or a file asking for the same form).
    Long pages are read in pieces of ``generation.max_input_chars``; a problem found in two pieces is
    kept once."""

    generation: GenerationConfig = field(default_factory=lambda: GenerationConfig("", "qa_extract", max_tokens=1024))


class QAExtract(LLMStage):
    name = "qa_extract"
    answer = "qa"
    long_inputs = "chunk"
    malformed_prefix = "parse_failed_"

    def parse(self, record: Record, text: str, completion: Completion) -> list[QAPair]:
        return parse_qa(completion.text)

    def finish(self, record: Record, values: list[list[QAPair]]) -> list[Record] | Drop:
        pairs = list({_squashed(p.question): p for piece in values for p in piece}.values())
        if not pairs:
            return Drop(record, "no_qa")
        self.counters["qa_pages"] += 1
        self.counters["qa_pairs"] += len(pairs)
        self.counters["qa_pairs_with_answer"] += sum(p.answer is not None for p in pairs)
        base = {"id": record.get("id"), "source": record.get("source")}
        return [{"id": f"{record.get('id')}/qa{n}", "source": record.get("source"), "text": qa_text(p.question, p.answer),
                 "meta": {"crawl": (record.get("meta") or {}).get("crawl"),
                          "synth": {"kind": "qa", "from": base, "question": p.question, "answer": p.answer,
                                    "steps": [self.provenance()]}}}
                for n, p in enumerate(pairs)]


@dataclass(frozen=True)
class QARefineConfig:
    """``min_number_share``: the part of the question's distinct numbers the solution must use."""

    generation: GenerationConfig = field(default_factory=lambda: GenerationConfig("", "qa_refine", max_tokens=2048))
    min_number_share: float = 0.5


class QARefine(LLMStage):
    name = "qa_refine"
    answer = "solution"
    long_inputs = "drop"  # a problem is short; one longer than the limit is no problem a page posed
    malformed_prefix = "parse_failed_"

    def payload_for(self, record: Record, text: str) -> dict:
        synth = (record.get("meta") or {}).get("synth") or {}
        if "question" not in synth:
            raise PromptError(f"record {record.get('id')} is not a Q&A record (no meta.synth.question)")
        return self.base_payload(self.messages(record, f"Question: {synth['question']}\n\nAnswer: {synth['answer'] or 'none'}"))

    def parse(self, record: Record, text: str, completion: Completion) -> str:
        synth = record["meta"]["synth"]
        return parse_solution(completion.text, QAPair(synth["question"], synth["answer"]), self.config.min_number_share)

    def finish(self, record: Record, values: list[str]) -> Record:
        synth = record["meta"]["synth"]
        synth["refined"] = True
        synth["steps"] = [*synth["steps"], self.provenance()]
        record["text"] = qa_text(synth["question"], values[0])
        return record
