"""The code classifier's compiled tokenizer (``megamath.code._tokens``) against the regular expression it
replaced: the code normalization of version 2 is these pieces, numbers folded to ``0``, lower case, so the
compiled pass reads what the pattern read and the shipped model (trained through the pattern) still
holds. A change here is a new ``NORMALIZE_VERSION``."""

from __future__ import annotations

import random
import re
import sysconfig
from pathlib import Path

from megamath.code._tokens import code_tokens
from megamath.code.normalize import normalize_code

_PIECE = re.compile(r"[^\s_](?:(?<=[a-z])[a-z]*[0-9]*|(?<=[A-Z])[a-z]+[0-9]*|(?<=[A-Z])[A-Z]*(?![a-z])[0-9]*"
                    r"|(?<=\d)[\d_]*(?:\.\d+)?(?:[eE][-+]?\d+)?"
                    r"|(?<=\*)\*=?|(?<=/)/=?|(?<=<)<=?|(?<=>)>=?|(?<=-)>|(?<==)>|(?<=:):|(?<=[-+*/%&|^!=<>])="
                    r"|(?<=&)&|(?<=\|)\||(?<=\+)\+|(?<=-)-|(?<=[^\w\s]))")
_NUMBER_PIECE = re.compile(r" \d\S*")


def reference(text: str) -> str:
    return _NUMBER_PIECE.sub(" 0", " " + " ".join(_PIECE.findall(text)))[1:].lower()


def test_examples():
    assert normalize_code("HTMLParser getElementById MAX_ITER x_1 log10 float32") == \
        "html parser get element by id max iter x 0 log10 float32"
    assert normalize_code("a**=b; c->d; e::f; g//=2; 1.5e-3 + 1_000 0x1F") == \
        "a **= b ; c -> d ; e :: f ; g //= 0 ; 0 + 0 0 x1 f"
    assert normalize_code("") == ""
    assert normalize_code("café ² π ∑ Ⓐ ٣") == "caf ∑ ⓐ 0"  # letters outside ASCII start no piece


def test_every_code_point_alone_and_between_pieces():
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    for step in range(0, len(characters), 4096):
        chunk = characters[step:step + 4096]
        for text in (" ".join(chunk), "".join(chunk), "aB".join(chunk), "1".join(chunk), "*=".join(chunk)):
            assert code_tokens(text) == reference(text)


def test_random_text_from_the_characters_that_decide_pieces():
    alphabet = list("aAzZbB09_ .eE+-*/<>=:&|%^!~\t\n\x1c\x85\xa0") + ["é", "İ", "²", "٣", "∑", "Σ", "ß", "Ⓐ", "\0", "𝑥"]
    rng = random.Random(7)
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40)))
        assert code_tokens(text) == reference(text), text


def test_real_source_files():
    """Python's standard library and C headers as installed here: real code of two languages."""
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["include"])]
    files = sorted(path for root in roots for pattern in ("*.py", "*.h") for path in root.glob(pattern))
    assert len(files) > 100
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert code_tokens(text) == reference(text), path
