"""Parsers of model answers. A parser returns the value or raises :class:`MalformedAnswer` with a
short reason (counted per stage); it never substitutes a default."""

from __future__ import annotations

import re

import orjson


class MalformedAnswer(ValueError):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


# the sign is captured (not skipped as punctuation), so that "Score: -1" is a signed score, not a 1
_SCORE_LINE = re.compile(r"score[^\w+-]{0,4}([-+]?\d+(?:\.\d+)?)(?:\s*(?:/|out of)\s*(\d+))?", re.IGNORECASE)
_REFUSAL = re.compile(r"^\W*(i'?m sorry|i am sorry|i cannot|i can'?t|i won'?t|as an ai\b|sorry, (but )?i)",
                      re.IGNORECASE)
_REFINED = re.compile(r"<refined>\s*(.*?)\s*(?:</refined>|$)", re.DOTALL | re.IGNORECASE)


_FENCED = re.compile(r"^```[\w+-]*[ \t]*\n?(.*?)\n?```$", re.DOTALL)


def unfenced(text: str) -> str:
    """``text`` without one code fence around all of it (small models fence a one-word verdict)."""
    match = _FENCED.match(text.strip())
    return match.group(1).strip() if match else text


def check_content(answer: str) -> str:
    text = answer.strip()
    if not text:
        raise MalformedAnswer("empty")
    if _REFUSAL.match(text):
        raise MalformedAnswer("refusal", text[:80])
    return text


def parse_score(answer: str, low: int, high: int) -> int:
    """The score in ``{"score": N}`` or the last ``Score: N`` of the answer, within [low, high]."""
    text = check_content(answer)
    scale = ""
    if text.startswith("{"):
        try:
            value = orjson.loads(text).get("score")
        except (orjson.JSONDecodeError, AttributeError):
            value = None
    else:
        matches = _SCORE_LINE.findall(text)
        value, scale = matches[-1] if matches else (None, "")
    if value is None or isinstance(value, bool):  # JSON's true is no score, not 1
        raise MalformedAnswer("no_score", text[-80:])
    if scale and int(scale) != high:  # "4/10" or "5/100" on a 0-5 rubric: another scale, not a score of ours
        raise MalformedAnswer("other_scale", f"{value}/{scale}")
    if isinstance(value, str) and value[:1] in "+-":
        raise MalformedAnswer("signed_score", value)
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise MalformedAnswer("no_score", str(value)[:80]) from None
    if not low <= score <= high or score != int(score):
        raise MalformedAnswer("score_out_of_range", str(value))
    return int(score)


def parse_refinement(answer: str, original: str, min_ratio: float, max_ratio: float) -> str:
    """The text inside ``<refined>`` (or the whole answer), if its length is within the ratios of the original's."""
    text = check_content(answer)
    match = _REFINED.search(text)
    refined = (match.group(1) if match else text).strip()
    if not refined:
        raise MalformedAnswer("empty")
    ratio = len(refined) / max(len(original), 1)
    if ratio < min_ratio:
        raise MalformedAnswer("too_short", f"{ratio:.2f} of the original")
    if ratio > max_ratio:
        raise MalformedAnswer("too_long", f"{ratio:.2f} of the original")
    return refined
