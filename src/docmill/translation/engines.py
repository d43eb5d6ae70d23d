"""Choosing the translation engine for a request and keeping one service per engine."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from docmill.cache import Cache
from docmill.config import Settings
from docmill.llm.gateway import LLMGateway
from docmill.translation.base import (
    LanguagePair,
    TranslationFailed,
    TranslatorNotConfigured,
    UnknownEngine,
)
from docmill.translation.batch import RetryPolicy, TranslationService
from docmill.translation.llm import LLMTranslator
from docmill.translation.mt import MTTranslator

logger = logging.getLogger(__name__)

ENGINES = ("llm", "mt")
STATUS_TTL_S = 10.0  # an engine's availability is asked upstream at most this often
STATUS_TIMEOUT_S = 5.0

NOTHING_CONFIGURED = (
    "No translation engine is configured: set DOCMILL_LLM_BASE_URL and "
    "DOCMILL_LLM_DEFAULT_MODEL to translate with an LLM, or DOCMILL_MT_URL to use an "
    "MT server."
)


def resolve_engine(requested: str | None, settings: Settings) -> str:
    """The request's engine, else the setting, else `llm` if configured, else `mt`.

    Raises UnknownEngine for a name that is not an engine, TranslatorNotConfigured
    when nothing is configured.
    """
    name = requested or settings.translate_engine
    if name:
        if name not in ENGINES:
            raise UnknownEngine(f"Unknown translation engine '{name}'; use one of: llm, mt.")
        return name
    if settings.llm_base_url:
        return "llm"
    if settings.mt_url:
        return "mt"
    raise TranslatorNotConfigured(NOTHING_CONFIGURED)


@dataclass(frozen=True)
class EngineStatus:
    """Whether an engine can translate now, and its language pairs (empty when not)."""

    engine: str | None  # None when nothing is configured
    available: bool
    pairs: list[LanguagePair]
    checked_at: float


class TranslationEngines:
    """One `TranslationService` per engine, built on first use and reused (pooled clients)."""

    def __init__(
        self,
        settings: Settings,
        gateway: LLMGateway,
        cache: Cache | None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._settings = settings
        self._gateway = gateway
        self._cache = cache
        self._retry = retry or RetryPolicy(attempts=settings.translate_retries)
        self._services: dict[str, TranslationService] = {}
        self._mt: MTTranslator | None = None
        self._statuses: dict[str, EngineStatus] = {}
        self._status_lock = asyncio.Lock()

    def service(self, engine: str | None = None) -> TranslationService:
        """The service for `engine` (resolved as `resolve_engine` says).

        Raises UnknownEngine, TranslatorNotConfigured.
        """
        name = resolve_engine(engine, self._settings)
        if name not in self._services:
            self._services[name] = TranslationService(
                self._translator(name),
                self._cache,
                concurrency=self._settings.translate_concurrency,
                retry=self._retry,
            )
        return self._services[name]

    async def status(self, engine: str | None = None) -> EngineStatus:
        """Whether `engine` (resolved as `resolve_engine` says) answers its language list,
        asked at most every STATUS_TTL_S and within STATUS_TIMEOUT_S. Raises
        UnknownEngine; anything else is reported as unavailable."""
        try:
            name = resolve_engine(engine, self._settings)
        except TranslatorNotConfigured:
            return EngineStatus(None, False, [], time.monotonic())
        async with self._status_lock:
            known = self._statuses.get(name)
            if known is None or time.monotonic() - known.checked_at >= STATUS_TTL_S:
                known = self._statuses[name] = await self._probe(name)
        return known

    async def _probe(self, name: str) -> EngineStatus:
        try:
            async with asyncio.timeout(STATUS_TIMEOUT_S):
                pairs = await self.service(name).translator.languages()
        except (TranslationFailed, TranslatorNotConfigured, TimeoutError) as exc:
            logger.warning("translation engine %s is not available: %s", name, exc)
            return EngineStatus(name, False, [], time.monotonic())
        return EngineStatus(name, True, pairs, time.monotonic())

    def _translator(self, name: str) -> LLMTranslator | MTTranslator:
        if name == "llm":
            return LLMTranslator(self._gateway)
        if not self._settings.mt_url:
            raise TranslatorNotConfigured(
                "The mt translation engine needs an MT server: set DOCMILL_MT_URL."
            )
        self._mt = MTTranslator(self._settings.mt_url, timeout_s=self._settings.llm_timeout_s)
        return self._mt

    async def aclose(self) -> None:
        if self._mt is not None:
            await self._mt.aclose()
