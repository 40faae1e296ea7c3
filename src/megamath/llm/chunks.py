"""Long documents in pieces a model can take: at most ``max_chars`` each, cut where the text has a
natural break, so that a stage asks about every part of a document instead of only its beginning.

A piece ends at a paragraph break if one falls in the second half of the budget, else at a line
break, else after a sentence, else at a space; only a run of ``max_chars`` characters without any of
these is cut mid-word. Joining the pieces with ``"\\n\\n"`` gives the text back up to the whitespace
at the cuts.
"""

from __future__ import annotations

_BREAKS = ("\n\n", "\n", ". ", " ")


def split_text(text: str, max_chars: int) -> list[str]:
    """``text`` (stripped) in pieces of at most ``max_chars`` characters; one piece when it fits."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, not {max_chars}")
    pieces = []
    rest = text.strip()
    while len(rest) > max_chars:
        window = rest[: max_chars + 1]
        for mark in _BREAKS:
            cut = window.rfind(mark, max_chars // 2)
            if cut > 0:
                cut += 1 if mark == ". " else 0  # a sentence keeps its period
                break
        else:
            cut = max_chars
        piece, rest = rest[:cut].strip(), rest[cut:].strip()
        if piece:
            pieces.append(piece)
    if rest:
        pieces.append(rest)
    return pieces
