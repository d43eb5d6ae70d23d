"""Concurrent, cached, retried translation of one text or many.

A batch is cut into chunks (as many texts per upstream call as the engine takes) that a
fixed number of workers pull one at a time, so a batch of 10,000 items never has more
than `concurrency` upstream calls or chunks alive. Each call is retried with
exponential backoff on transient errors; a chunk that still fails is retried item by
item, so one bad item fails alone and the rest come back translated, in input order.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from docmill.cache import Cache, translation_key
from docmill.translation.base import TranslationFailed, Translator
from docmill.translation.protect import mask, needs_translation, unmask

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class BatchItem:
    index: int
    text: str


@dataclass
class BatchResult:
    index: int
    translated_text: str | None
    error: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # calls in all, the first included
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def delay_s(self, retry: int) -> float:
        """Backoff before retry number `retry` (0-based), with jitter against herds."""
        backoff = min(self.max_delay_s, self.base_delay_s * 2.0**retry)
        return backoff * random.uniform(0.5, 1.0)


async def call_with_retry(call: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """`call()`'s result, retrying TranslationFailed marked transient. Re-raises the last."""
    for retry in range(max(1, policy.attempts)):
        try:
            return await call()
        except TranslationFailed as exc:
            if not exc.transient or retry + 1 >= policy.attempts:
                raise
            await asyncio.sleep(policy.delay_s(retry))
    raise AssertionError("unreachable")


@dataclass
class _Pending:
    position: int  # where the result goes
    text: str
    masked: str
    spans: list[str]


class TranslationService:
    """Translates through one engine, with the cache in front and retries behind."""

    def __init__(
        self,
        translator: Translator,
        cache: Cache | None = None,
        concurrency: int = 8,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.translator = translator
        self._cache = cache
        self._concurrency = max(1, concurrency)
        self._retry = retry or RetryPolicy()

    def _key(self, text: str, source_lang: str, target_lang: str) -> str:
        t = self.translator
        return translation_key(t.name, t.model, source_lang, target_lang, text)

    async def translate_text(self, text: str, source_lang: str, target_lang: str) -> str:
        """One translation. Raises TranslationFailed after the retries are spent."""
        [result] = await self.translate_batch([BatchItem(0, text)], source_lang, target_lang)
        if result.translated_text is None:
            raise TranslationFailed(result.error or "translation failed", False)
        return result.translated_text

    async def translate_batch(
        self,
        items: Sequence[BatchItem],
        source_lang: str,
        target_lang: str,
        on_progress: Callable[[int, int], Awaitable[None]] | None = None,
    ) -> list[BatchResult]:
        """One result per item, in input order; failed items carry `error`, never raise.

        `on_progress(done, total)` is awaited after each chunk.
        """
        results: list[BatchResult | None] = [None] * len(items)
        chunks = self._chunks(items)
        done = 0

        async def work() -> None:
            nonlocal done
            # next() has no await, so workers never take the same chunk.
            for chunk in chunks:
                await self._run_chunk(items, chunk, results, source_lang, target_lang)
                done += len(chunk)
                if on_progress is not None:
                    await on_progress(done, len(items))

        workers = min(self._concurrency, max(1, len(items)))
        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(work())
        return [
            r if r is not None else BatchResult(i.index, None, "not run")
            for r, i in zip(results, items, strict=True)
        ]

    def _chunks(self, items: Sequence[BatchItem]) -> Iterator[list[int]]:
        """Positions grouped up to the engine's item and character limits."""
        max_items = max(1, self.translator.max_batch_items)
        max_chars = self.translator.max_batch_chars
        chunk: list[int] = []
        chars = 0
        for position, item in enumerate(items):
            if chunk and (len(chunk) >= max_items or chars + len(item.text) > max_chars):
                yield chunk
                chunk, chars = [], 0
            chunk.append(position)
            chars += len(item.text)
        if chunk:
            yield chunk

    async def _run_chunk(
        self,
        items: Sequence[BatchItem],
        chunk: list[int],
        results: list[BatchResult | None],
        source_lang: str,
        target_lang: str,
    ) -> None:
        pending: list[_Pending] = []
        for position in chunk:
            item = items[position]
            cached = await self._cached(item.text, source_lang, target_lang)
            if cached is not None:
                results[position] = BatchResult(item.index, cached)
                continue
            masked, spans = mask(item.text)
            if not needs_translation(masked):
                results[position] = BatchResult(item.index, item.text)
                continue
            pending.append(_Pending(position, item.text, masked, spans))
        if not pending:
            return
        try:
            translated = await self._translate(pending, source_lang, target_lang)
        except TranslationFailed as exc:
            if len(pending) == 1:
                results[pending[0].position] = BatchResult(
                    items[pending[0].position].index, None, exc.message
                )
                return
            log.info("chunk of %d failed (%s); retrying item by item", len(pending), exc.message)
            for one in pending:
                try:
                    [text] = await self._translate([one], source_lang, target_lang)
                except TranslationFailed as item_exc:
                    results[one.position] = BatchResult(
                        items[one.position].index, None, item_exc.message
                    )
                    continue
                results[one.position] = BatchResult(items[one.position].index, text)
            return
        for one, text in zip(pending, translated, strict=True):
            results[one.position] = BatchResult(items[one.position].index, text)

    async def _translate(
        self, pending: list[_Pending], source_lang: str, target_lang: str
    ) -> list[str]:
        masked = [one.masked for one in pending]
        answers = await call_with_retry(
            lambda: self.translator.translate(masked, source_lang, target_lang), self._retry
        )
        texts = [unmask(answer, one.spans) for answer, one in zip(answers, pending, strict=True)]
        if self._cache is not None:
            for one, text in zip(pending, texts, strict=True):
                await self._cache.set_json(self._key(one.text, source_lang, target_lang), text)
        return texts

    async def _cached(self, text: str, source_lang: str, target_lang: str) -> str | None:
        if self._cache is None:
            return None
        value = await self._cache.get_json(self._key(text, source_lang, target_lang))
        return value if isinstance(value, str) else None
