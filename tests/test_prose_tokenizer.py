"""The classifier's compiled prose tokenizer (``megamath.classify._prose``) against the regular expression
it replaced: the prose tokens of preprocessing version 4 (5 changed formulas only; 6 writes stage 1's escaped
amount as ``escapedprice`` and drops the pronouns of the first and second person outside formulas) are
these, so the compiled pass reads what the pattern read; a change here is a new ``PREPROCESS_VERSION``."""

from __future__ import annotations

import random
import re

import pytest

from megamath.classify._prose import prose_line
from megamath.classify.preprocess import _compatible

_LETTER = r"[^\W\d_]"
_NUMBER = r"\d[\d,]*(?:\.\d+)?"
_TOKEN = (
    r"[^\s_.,;:!?\"'()\[\]]"
    r"(?:(?<=L)L*(?:_L+)*(?:\d{2,}(?!\w))?"
    r"|(?<=\d)\d*(?:[.,]\d+)*(?:\s?(?:%|€|£|(?:usd|eur|gbp|dollars?|euros?)\b|[ap]\.?m\b\.?)"
    r"|(?::\d{2}){1,2}(?:\s?[ap]\.?m\b\.?)?|(?:[-/]\d{1,4}){2})?"
    r"|(?<=[$€£¥₹])(?:\s?" + _NUMBER + r"|[a-z_{][\w}]*)?|(?<=\\)\$\s?" + _NUMBER + r"|(?<=\\)[a-z]+"
    r"|(?<=[^\w\s.,;:!?\"'()\[\]]))").replace("L", _LETTER)
# Python's re reads ASCII text under its ASCII flag (where \x1c–\x1f are no whitespace), as version 4 did
_REFERENCE = {True: re.compile(_TOKEN, re.ASCII), False: re.compile(_TOKEN)}


def _reference_token(token: str) -> str:
    first, last = token[0], token[-1]
    if first == "\\":
        return "escapedprice" if token[1:2] == "$" else token
    if first in "$€£¥₹":
        if len(token) == 1:
            return "dollar"
        if token[1].isalpha() or token[1] in "_{":
            return "codevar"
        return "shopprice" if token.endswith((".99", ".95", ".49", ".98", ".97")) else "price"
    if first in "0123456789":
        if last in "0123456789":
            return "clock" if ":" in token else "date" if "-" in token or "/" in token else "0"
        return "percent" if last == "%" else "clock" if last in "m." else "price"
    if last in "0123456789":
        return "model"
    return token if token.isascii() else _compatible(token)


_PRONOUNS = {"i", "me", "my", "mine", "myself", "you", "your", "yours", "yourself", "we", "our", "ours", "ourselves"}


def reference_line(text: str) -> str:
    tokens, in_formula = [], False
    for token in _REFERENCE[text.isascii()].findall(text):
        if token == ("mathend" if in_formula else "mathspan"):
            in_formula = not in_formula
        elif not in_formula and token in _PRONOUNS:  # who speaks is no topic (version 6)
            continue
        tokens.append(_reference_token(token))
    return " ".join(tokens)


PIECES = ["20", "5", "1.5", "3,000", "12:30", "12:345", "2024-05-01", "05/01/2024", "1-2", "/3", "-12345", "x", "ab",
          "_", "usd", "eur", "gbp", "euros", "dollar", "dollars", "pm", "p.m.", "am", "a.m", "a.", "m", "%", "€", "£",
          "¥", "₹", "$", "\\$", "\\", "{", "}", " ", "  ", "\n", "\t", "\x1c", "\x00", "\u2009", "\xa0", ".", ",", "'",
          "(", ")", "-", "/", ":", "α", "٣", "𝟐", "😀", "\\alpha", "é", "²", "½", "ℝ", "ﬁ", "x_1", "_a", "jcm800",
          "h100", "a12b", "1,", "9.", "1.99", "ǅ", "i", "you", "yours", "mathspan", "mathend", "mathspany", "us", "me", "my", "mine", "we",
          "our", "ourselves", "yourself", "myself"]


def test_the_tokens_of_the_regular_expression_on_generated_text():
    rng = random.Random(4)
    for _ in range(30_000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 14)))
        assert prose_line(text, _compatible) == reference_line(text), repr(text)


@pytest.mark.parametrize("context", ["{c}", "a{c}b", "1{c}2", "${c}5", "\\{c}", "5{c}usd", "ab12{c}", "12:30{c}pm"])
def test_every_character_is_read_as_the_regular_expression_reads_it(context):
    # every code point of the Basic Multilingual Plane, and a sample beyond it, at the places where
    # what a character is (letter, digit, space, word character) decides a token
    codes = [*range(0xD800), *range(0xE000, 0x10000), *range(0x10000, 0x110000, 97)]
    texts = [context.replace("{c}", chr(code)) for code in codes]
    mismatched = [t for t in texts if prose_line(t, _compatible) != reference_line(t)]
    assert mismatched == []


def test_the_token_function_is_called_for_non_ascii_tokens_only_and_its_errors_propagate():
    seen = []
    assert prose_line("größe 5 naïve word", lambda token: seen.append(token) or token.upper()) == "GRÖSSE 0 NAÏVE word"
    assert seen == ["größe", "naïve"]
    with pytest.raises(TypeError, match="returned int, not str"):
        prose_line("é", lambda token: 1)
    with pytest.raises(ZeroDivisionError):
        prose_line("é", lambda token: 1 / 0)
    with pytest.raises(TypeError, match="prose_line"):
        prose_line(b"bytes", _compatible)
