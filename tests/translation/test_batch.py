"""Batch translation: concurrency, per-item failures, retries, order, cache, memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from docmill.cache import Cache, MemoryLevel, RedisLevel, StoreLevel
from docmill.devtools.fake_llm import FakeUpstream
from docmill.llm.gateway import LLMConfig, LLMGateway
from docmill.store.cache_table import SqlKeyValueStore
from docmill.translation.batch import BatchItem, RetryPolicy, TranslationService
from docmill.translation.llm import LLMTranslator
from docmill.translation.mt import MTTranslator

FAST_RETRY = RetryPolicy(attempts=3, base_delay_s=0.001, max_delay_s=0.01)


@pytest.fixture
async def gateway(fake_upstream: FakeUpstream) -> AsyncIterator[LLMGateway]:
    gw = LLMGateway(
        LLMConfig(
            base_url=fake_upstream.openai_base_url, default_model="fake-small", concurrency=64
        )
    )
    yield gw
    await gw.aclose()


@pytest.fixture
async def mt(fake_upstream: FakeUpstream) -> AsyncIterator[MTTranslator]:
    translator = MTTranslator(fake_upstream.url)
    yield translator
    await translator.aclose()


def items(n: int, template: str = "item {i}") -> list[BatchItem]:
    return [BatchItem(index=i, text=template.format(i=i)) for i in range(n)]


async def test_batch_runs_concurrency_calls_in_flight(
    gateway: LLMGateway, fake_upstream: FakeUpstream
) -> None:
    # 100 items, one per call, C=7: ceil(100/7) rounds of L each, never more than 7 at once.
    fake_upstream.state.latency_s = 0.05
    service = TranslationService(
        LLMTranslator(gateway, max_batch_items=1), concurrency=7, retry=FAST_RETRY
    )
    results = await service.translate_batch(items(100), "en", "fr")
    assert fake_upstream.state.calls == 100
    assert fake_upstream.state.max_in_flight == 7
    assert [r.index for r in results] == list(range(100))
    assert [r.translated_text for r in results] == [f"ITEM {i}" for i in range(100)]


async def test_failing_items_come_back_as_errors_and_the_rest_translated(
    gateway: LLMGateway, fake_upstream: FakeUpstream
) -> None:
    for marker in ("bad-a", "bad-b", "bad-c"):
        fake_upstream.state.failures[marker] = None
    batch = items(30)
    batch[3] = BatchItem(3, "bad-a here")
    batch[14] = BatchItem(14, "bad-b here")
    batch[29] = BatchItem(29, "bad-c here")
    service = TranslationService(
        LLMTranslator(gateway, max_batch_items=10), concurrency=4, retry=FAST_RETRY
    )
    results = await service.translate_batch(batch, "en", "fr")
    assert [r.index for r in results] == list(range(30))
    failed = {r.index for r in results if r.translated_text is None}
    assert failed == {3, 14, 29}
    for r in results:
        if r.index in failed:
            assert r.error and "injected failure" in r.error
        else:
            assert r.translated_text == f"ITEM {r.index}"
            assert r.error is None


async def test_transient_failure_is_retried(
    gateway: LLMGateway, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.state.failures["flaky"] = 2  # fails twice, then answers
    service = TranslationService(LLMTranslator(gateway), retry=FAST_RETRY)
    assert await service.translate_text("flaky text", "en", "fr") == "FLAKY TEXT"
    assert fake_upstream.state.calls == 3


async def test_permanent_failure_is_not_retried(
    gateway: LLMGateway, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.state.failures["nope"] = None
    fake_upstream.state.fail_status = 400
    service = TranslationService(LLMTranslator(gateway), retry=FAST_RETRY)
    [result] = await service.translate_batch([BatchItem(5, "nope")], "en", "fr")
    assert result.index == 5
    assert result.translated_text is None
    assert fake_upstream.state.calls == 1


async def test_markdown_tables_and_latex_are_kept(
    gateway: LLMGateway, fake_upstream: FakeUpstream
) -> None:
    service = TranslationService(LLMTranslator(gateway), retry=FAST_RETRY)
    text = (
        "Energy is $E = mc^2$ and `code()` here, see ![fig](images/p1.png).\n\n"
        "$$\n\\frac{a}{b}\n$$\n\n"
        '<table><tr><td class="x">cell</td></tr></table>'
    )
    translated = await service.translate_text(text, "en", "fr")
    assert translated == (
        "ENERGY IS $E = mc^2$ AND `code()` HERE, SEE ![FIG](images/p1.png).\n\n"
        "$$\n\\frac{a}{b}\n$$\n\n"
        '<table><tr><td class="x">CELL</td></tr></table>'
    )
    assert "mc^2" not in fake_upstream.state.requests[-1]["messages"][-1]["content"]


async def test_text_with_nothing_to_translate_makes_no_call(
    gateway: LLMGateway, fake_upstream: FakeUpstream
) -> None:
    service = TranslationService(LLMTranslator(gateway), retry=FAST_RETRY)
    results = await service.translate_batch(
        [BatchItem(0, "$$x^2$$"), BatchItem(1, "42."), BatchItem(2, "")], "en", "fr"
    )
    assert [r.translated_text for r in results] == ["$$x^2$$", "42.", ""]
    assert fake_upstream.state.calls == 0


async def test_mt_engine_translates_in_chunks(
    mt: MTTranslator, fake_upstream: FakeUpstream
) -> None:
    service = TranslationService(mt, concurrency=2, retry=FAST_RETRY)
    results = await service.translate_batch(items(70), "en", "de")
    assert [r.translated_text for r in results] == [f"[de] item {i}" for i in range(70)]
    assert fake_upstream.state.mt_calls == 3  # 32 + 32 + 6
    pairs = await mt.languages()
    assert any(p.source == "en" and p.target == "fr" for p in pairs)


async def test_ten_thousand_items_keep_tasks_and_calls_bounded(
    mt: MTTranslator, fake_upstream: FakeUpstream
) -> None:
    service = TranslationService(mt, concurrency=4, retry=FAST_RETRY)
    baseline = len(asyncio.all_tasks())
    most_tasks = 0

    async def watch(done: int, total: int) -> None:
        nonlocal most_tasks
        most_tasks = max(most_tasks, len(asyncio.all_tasks()))

    results = await service.translate_batch(items(10_000), "en", "fr", on_progress=watch)
    assert len(results) == 10_000
    assert results[9_999].translated_text == "[fr] item 9999"
    assert all(r.translated_text is not None for r in results)
    assert most_tasks <= baseline + 4
    assert fake_upstream.state.max_in_flight <= 4


# --- cache ---


async def test_second_identical_translation_is_served_from_cache(
    gateway: LLMGateway, fake_upstream: FakeUpstream, kv_store: SqlKeyValueStore
) -> None:
    cache = Cache([MemoryLevel(100, 60), StoreLevel(kv_store)], default_ttl_s=60)
    service = TranslationService(LLMTranslator(gateway), cache=cache, retry=FAST_RETRY)
    assert await service.translate_text("hello", "en", "fr") == "HELLO"
    assert await service.translate_text("hello", "en", "fr") == "HELLO"
    assert fake_upstream.state.calls == 1
    assert cache.stats()["l1"].hits == 1
    await service.translate_text("hello", "en", "de")  # another language, another key
    assert fake_upstream.state.calls == 2


async def test_translation_cache_survives_a_restart(
    gateway: LLMGateway, fake_upstream: FakeUpstream, kv_store: SqlKeyValueStore
) -> None:
    for _ in range(2):
        cache = Cache([MemoryLevel(100, 60), StoreLevel(kv_store)], default_ttl_s=60)
        service = TranslationService(LLMTranslator(gateway), cache=cache, retry=FAST_RETRY)
        results = await service.translate_batch(items(5), "en", "fr")
        assert [r.translated_text for r in results] == [f"ITEM {i}" for i in range(5)]
    assert fake_upstream.state.calls == 1  # one chunk of five, once
    assert cache.stats()["l3"].hits == 5


@pytest.mark.redis
async def test_second_instance_gets_translations_from_redis(
    gateway: LLMGateway,
    fake_upstream: FakeUpstream,
    kv_store: SqlKeyValueStore,
    redis_url: str,
    redis_prefix: str,
) -> None:
    caches = []
    for _ in range(2):
        l2 = RedisLevel.from_url(redis_url, prefix=redis_prefix)
        cache = Cache([MemoryLevel(100, 60), l2, StoreLevel(kv_store)], default_ttl_s=60)
        caches.append(cache)
        service = TranslationService(LLMTranslator(gateway), cache=cache, retry=FAST_RETRY)
        assert await service.translate_text("shared", "en", "fr") == "SHARED"
        await cache.aclose()
    assert fake_upstream.state.calls == 1
    assert caches[1].stats()["l2"].hits == 1
    assert caches[1].stats()["l3"].hits == 0


async def test_failed_items_are_not_cached(
    gateway: LLMGateway, fake_upstream: FakeUpstream, kv_store: SqlKeyValueStore
) -> None:
    fake_upstream.state.failures["once"] = 1
    cache = Cache([MemoryLevel(100, 60), StoreLevel(kv_store)], default_ttl_s=60)
    service = TranslationService(LLMTranslator(gateway), cache=cache, retry=RetryPolicy(attempts=1))
    [first] = await service.translate_batch([BatchItem(0, "once")], "en", "fr")
    [second] = await service.translate_batch([BatchItem(0, "once")], "en", "fr")
    assert first.translated_text is None
    assert second.translated_text == "ONCE"


async def test_unusable_list_answer_falls_back_to_one_text_per_call(
    gateway: LLMGateway, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.state.broken_lists = True
    service = TranslationService(LLMTranslator(gateway, max_batch_items=5), retry=FAST_RETRY)
    results = await service.translate_batch(items(5), "en", "fr")
    assert [r.translated_text for r in results] == [f"ITEM {i}" for i in range(5)]
    assert fake_upstream.state.calls == 1 + 5  # the list once (not retried), then each text


async def test_text_too_large_for_the_llm_fails_alone(fake_upstream: FakeUpstream) -> None:
    gw = LLMGateway(
        LLMConfig(
            base_url=fake_upstream.openai_base_url,
            default_model="fake-small",
            max_request_bytes=2048,
        )
    )
    try:
        service = TranslationService(LLMTranslator(gw), retry=FAST_RETRY)
        batch = [BatchItem(0, "short"), BatchItem(1, "long " * 1000), BatchItem(2, "fine")]
        results = await service.translate_batch(batch, "en", "fr")
    finally:
        await gw.aclose()
    assert [r.translated_text for r in results] == ["SHORT", None, "FINE"]
    assert results[1].error and "DOCMILL_LLM_MAX_REQUEST_KB" in results[1].error
