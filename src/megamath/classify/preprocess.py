"""The text normalization a math classifier sees, identical in training and in prediction.

NFKC (so full-width and styled letters become plain ones), lower case, every number → one number
token (``0``: the value of a number says nothing about the topic, its presence does), math symbols
and TeX commands as tokens of their own (``x^2`` → ``x ^ 0``, ``\\frac{a}{b}`` → ``\\frac { a } { b }``),
sentence punctuation (``. , ; : ! ? " ' ( ) [ ]``) dropped: it is in every text, and each token costs
prediction time. Whitespace collapses to single spaces, so a document is one line.
"""

from __future__ import annotations

import re
import unicodedata

# TeX commands, words (any script, no digits), a number (digits with inner . or ,), one math symbol;
# ASCII text takes the ASCII-only twin of the pattern, which matches the same tokens faster.
_TOKEN = re.compile(r"\\[a-z]+|[^\W\d_]+|\d+(?:[.,]\d+)*|[^\w\s.,;:!?\"'()\[\]]")
_TOKEN_ASCII = re.compile(_TOKEN.pattern.replace(r"[^\W\d_]+", "[a-z]+"), re.ASCII)
_DIGITS = frozenset("0123456789")


def preprocess(text: str) -> str:
    """One line of tokens separated by single spaces; see the module docstring."""
    if text.isascii():
        tokens = _TOKEN_ASCII.findall(text.lower())
    else:
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
        tokens = _TOKEN.findall(text.lower())
    return " ".join(["0" if token[0] in _DIGITS else token for token in tokens])


def chunk_words(line: str, max_words: int) -> list[str]:
    """A preprocessed document cut into lines of at most ``max_words`` tokens (0: one line), so that
    a long document counts as several training examples instead of one diluted one."""
    if max_words <= 0:
        return [line]
    words = line.split(" ")
    if len(words) <= max_words:
        return [line]
    return [" ".join(words[i:i + max_words]) for i in range(0, len(words), max_words)]
