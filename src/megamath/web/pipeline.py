"""The web pipeline, stage 1: WARC → URL filter → text extraction → language ID (→ math classifier)
(→ decontamination)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from megamath.classify.stage import ClassifierConfig, MathClassify
from megamath.dedup.decontaminate import Decontaminate, DecontaminateConfig
from megamath.runtime.guard import GuardConfig
from megamath.runtime.pipeline import Pipeline
from megamath.sources.warc import WarcReader, WarcReaderConfig
from megamath.web.extract import ExtractConfig, ExtractText
from megamath.web.langid import LanguageId, LanguageIdConfig
from megamath.web.url_filter import UrlFilter, UrlFilterConfig


@dataclass(frozen=True)
class WebExtractConfig:
    reader: WarcReaderConfig = field(default_factory=WarcReaderConfig)
    url_filter: UrlFilterConfig = field(default_factory=UrlFilterConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    language: LanguageIdConfig = field(default_factory=LanguageIdConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)
    output_suffix: str = ".parquet"
    keep_html: bool = False
    classifier: ClassifierConfig | None = None
    decontaminate: DecontaminateConfig | None = None


def build_web_pipeline(config: WebExtractConfig, download_dir: str | None = None) -> Pipeline:
    reader_config = replace(config.reader, download_dir=download_dir) if download_dir else config.reader
    stages = [UrlFilter(config.url_filter), ExtractText(config.extract), LanguageId(config.language)]
    if config.classifier is not None:
        stages.append(MathClassify(config.classifier))
    if config.decontaminate is not None:
        stages.append(Decontaminate(config.decontaminate))
    return Pipeline(
        reader=WarcReader(reader_config),
        stages=stages,
        output_suffix=config.output_suffix,
        drop_fields=() if config.keep_html else ("html",),
        guard=config.guard,
        excluded_reasons=("benchmark_",) if config.decontaminate is not None else (),
    )
