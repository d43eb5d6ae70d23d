"""The language side of one docmill instance: cache, LLM gateway, translation engines,
document translations. Built from Settings at start-up, closed together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from docmill.cache import Cache, build_cache
from docmill.config import Settings
from docmill.events import EventBus
from docmill.llm.gateway import LLMConfig, LLMGateway
from docmill.metrics import Metrics
from docmill.pipeline.document_translation import DocumentTranslations
from docmill.pipeline.results import ResultReader
from docmill.store.blobs import BlobStore
from docmill.store.cache_table import SqlKeyValueStore
from docmill.translation.engines import TranslationEngines


def _counter(metrics: Metrics) -> Callable[[str, str], None]:
    def count(level: str, outcome: str) -> None:
        metrics.cache.labels(level, outcome).inc()

    return count


@dataclass
class LanguageServices:
    cache: Cache
    llm: LLMGateway
    engines: TranslationEngines
    documents: DocumentTranslations

    @classmethod
    async def start(
        cls,
        settings: Settings,
        db: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        blobs: BlobStore,
        events: EventBus,
        results: ResultReader,
        *,
        metrics: Metrics | None = None,
        resume_jobs: bool = True,
    ) -> LanguageServices:
        """Build everything (no network I/O) and resume unfinished document translations."""
        on_lookup = _counter(metrics) if metrics is not None else None
        cache = build_cache(settings, SqlKeyValueStore(db), on_lookup=on_lookup)
        llm = LLMGateway(LLMConfig.from_settings(settings), cache=cache)
        engines = TranslationEngines(settings, llm, cache)
        documents = DocumentTranslations(sessions, blobs, events, results, engines)
        if resume_jobs:
            await documents.resume()
        return cls(cache, llm, engines, documents)

    async def close(self) -> None:
        await self.documents.stop()
        await self.engines.aclose()
        await self.llm.aclose()
        await self.cache.aclose()
