"""Loading fastText models: the one place that loads one (training is in :mod:`.model`).

Language ID (``lid.176``), the math classifier and the Web-Pro score classifier all load their models
here, once per process, with the same checks: a missing file, a file that is not a fastText model,
and an installed ``fasttext`` module that another package replaced with a build that fails under
numpy 2 each give one clear :class:`FastTextModelError`.
"""

from __future__ import annotations

from pathlib import Path

_models: dict[str, object] = {}


class FastTextModelError(RuntimeError):
    """A fastText model cannot be used: missing, not a fastText model, or a broken fastText build."""


def load_fasttext_model(path: str | Path, cache: bool = True):
    """The fastText model at ``path``, loaded once per process (``cache=False``: a copy of its own,
    for a caller that changes it)."""
    key = str(Path(path).resolve())
    model = _models.get(key) if cache else None
    if model is None:
        if not Path(key).is_file():
            raise FastTextModelError(f"fastText model not found: {path}")
        import fasttext

        fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence its stderr warning per load
        try:
            model = fasttext.load_model(key)
        except ValueError as exc:
            raise FastTextModelError(f"{path} is not a fastText model ({exc})") from exc
        try:
            model.predict("numpy check")
        except ValueError as exc:
            raise FastTextModelError(
                f"the installed `fasttext` module does not work with numpy 2 ({exc}); another package "
                "replaced fasttext-numpy2: run `pip install --force-reinstall --no-deps fasttext-numpy2`"
            ) from exc
        if cache:
            _models[key] = model
    return model
