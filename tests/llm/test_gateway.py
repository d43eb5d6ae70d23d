"""The LLM gateway against the fake OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from docmill.cache import Cache, MemoryLevel, RedisLevel, StoreLevel
from docmill.devtools.fake_llm import FakeUpstream
from docmill.llm.gateway import (
    ChatStream,
    InvalidLLMRequest,
    LLMConfig,
    LLMGateway,
    LLMNotConfigured,
    LLMRequestTooLarge,
    ModelNotAllowed,
    UpstreamError,
)
from docmill.store.cache_table import SqlKeyValueStore
from tests.support.polling import wait_until

HELLO = {"messages": [{"role": "user", "content": "hello brave new world"}]}


def config_for(upstream: FakeUpstream, **overrides: object) -> LLMConfig:
    values: dict[str, object] = {
        "base_url": upstream.openai_base_url,
        "api_key": "secret",
        "models": ("fake-small", "fake-large"),
        "default_model": "fake-small",
        "max_tokens": 256,
        "concurrency": 4,
        "timeout_s": 10.0,
    }
    values.update(overrides)
    return LLMConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
async def gateway(fake_upstream: FakeUpstream) -> AsyncIterator[LLMGateway]:
    gw = LLMGateway(config_for(fake_upstream))
    yield gw
    await gw.aclose()


async def events(stream: ChatStream) -> list[str]:
    return [chunk.decode() async for chunk in stream]


async def test_unconfigured_gateway_says_which_setting_to_set() -> None:
    gw = LLMGateway(LLMConfig(base_url=None))
    assert not gw.configured
    with pytest.raises(LLMNotConfigured, match="DOCMILL_LLM_BASE_URL"):
        await gw.chat(HELLO)
    with pytest.raises(LLMNotConfigured):
        await gw.models()


async def test_models_lists_the_allow_list(gateway: LLMGateway) -> None:
    listed = await gateway.models()
    assert [m["id"] for m in listed["data"]] == ["fake-small", "fake-large"]
    assert listed["object"] == "list"


async def test_models_come_from_upstream_without_an_allow_list(
    fake_upstream: FakeUpstream,
) -> None:
    gw = LLMGateway(config_for(fake_upstream, models=(), default_model=None))
    try:
        listed = await gw.models()
    finally:
        await gw.aclose()
    assert [m["id"] for m in listed["data"]] == fake_upstream.state.models


async def test_chat_returns_the_upstream_completion(
    gateway: LLMGateway, fake_upstream: FakeUpstream
) -> None:
    answer = await gateway.chat(HELLO)
    assert answer["choices"][0]["message"]["content"] == "HELLO BRAVE NEW WORLD"
    sent = fake_upstream.state.requests[-1]
    assert sent["model"] == "fake-small"  # the default filled in
    assert sent["max_tokens"] == 256
    assert "stream" not in sent


async def test_model_outside_the_allow_list_is_refused(
    gateway: LLMGateway, fake_upstream: FakeUpstream
) -> None:
    with pytest.raises(ModelNotAllowed, match="gpt-9"):
        await gateway.chat({**HELLO, "model": "gpt-9"})
    assert fake_upstream.state.calls == 0


async def test_max_tokens_is_capped(gateway: LLMGateway, fake_upstream: FakeUpstream) -> None:
    await gateway.chat({**HELLO, "max_tokens": 100_000, "max_completion_tokens": 10})
    sent = fake_upstream.state.requests[-1]
    assert sent["max_tokens"] == 256
    assert sent["max_completion_tokens"] == 10


async def test_bad_requests_are_refused_before_the_upstream(
    fake_upstream: FakeUpstream,
) -> None:
    gw = LLMGateway(config_for(fake_upstream, max_request_bytes=1024))
    try:
        with pytest.raises(LLMRequestTooLarge, match="DOCMILL_LLM_MAX_REQUEST_KB"):
            await gw.chat({"messages": [{"role": "user", "content": "x" * 2000}]})
        with pytest.raises(InvalidLLMRequest, match="messages"):
            await gw.chat({"messages": []})
        with pytest.raises(InvalidLLMRequest, match="max_tokens"):
            await gw.chat({**HELLO, "max_tokens": -1})
    finally:
        await gw.aclose()
    assert fake_upstream.state.calls == 0


async def test_upstream_failures_become_upstream_errors(
    gateway: LLMGateway, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.state.failures["boom"] = None
    with pytest.raises(UpstreamError, match="injected failure") as caught:
        await gateway.chat({"messages": [{"role": "user", "content": "boom"}]})
    assert caught.value.transient
    assert caught.value.upstream_status == 500
    fake_upstream.state.fail_status = 400
    with pytest.raises(UpstreamError) as caught:
        await gateway.chat({"messages": [{"role": "user", "content": "boom"}]})
    assert not caught.value.transient


async def test_unreachable_upstream_is_a_transient_upstream_error() -> None:
    gw = LLMGateway(LLMConfig(base_url="http://127.0.0.1:9/v1", default_model="m"))
    try:
        with pytest.raises(UpstreamError, match="could not be reached") as caught:
            await gw.chat(HELLO)
    finally:
        await gw.aclose()
    assert caught.value.transient


async def test_concurrency_limit_holds_across_callers(fake_upstream: FakeUpstream) -> None:
    fake_upstream.state.latency_s = 0.05
    gw = LLMGateway(config_for(fake_upstream, concurrency=3))
    try:
        await asyncio.gather(
            *(
                gw.chat({"messages": [{"role": "user", "content": f"n{i}"}]}, use_cache=False)
                for i in range(12)
            )
        )
    finally:
        await gw.aclose()
    assert fake_upstream.state.calls == 12
    assert fake_upstream.state.max_in_flight == 3


# --- cache ---


async def test_identical_completion_is_served_from_cache(
    fake_upstream: FakeUpstream, kv_store: SqlKeyValueStore
) -> None:
    cache = Cache([MemoryLevel(100, 60), StoreLevel(kv_store)], default_ttl_s=60)
    gw = LLMGateway(config_for(fake_upstream), cache=cache)
    try:
        first = await gw.chat(HELLO)
        second = await gw.chat({**HELLO, "model": "fake-small"})  # same canonical request
    finally:
        await gw.aclose()
    assert first == second
    assert fake_upstream.state.calls == 1
    assert cache.stats()["l1"].hits == 1


async def test_completion_cache_survives_a_restart(
    fake_upstream: FakeUpstream, kv_store: SqlKeyValueStore
) -> None:
    for _ in range(2):  # two lives of the app: each with an empty L1
        cache = Cache([MemoryLevel(100, 60), StoreLevel(kv_store)], default_ttl_s=60)
        gw = LLMGateway(config_for(fake_upstream), cache=cache)
        try:
            await gw.chat(HELLO)
        finally:
            await gw.aclose()
    assert fake_upstream.state.calls == 1
    assert cache.stats()["l3"].hits == 1


@pytest.mark.redis
async def test_second_instance_gets_the_completion_from_redis(
    fake_upstream: FakeUpstream, kv_store: SqlKeyValueStore, redis_url: str, redis_prefix: str
) -> None:
    caches = []
    for _ in range(2):  # two app instances on two machines: each its own L1
        l2 = RedisLevel.from_url(redis_url, prefix=redis_prefix)
        cache = Cache([MemoryLevel(100, 60), l2, StoreLevel(kv_store)], default_ttl_s=60)
        caches.append(cache)
        gw = LLMGateway(config_for(fake_upstream), cache=cache)
        try:
            await gw.chat(HELLO)
        finally:
            await gw.aclose()
            await cache.aclose()
    assert fake_upstream.state.calls == 1
    assert caches[1].stats()["l2"].hits == 1
    assert caches[1].stats()["l3"].hits == 0


async def test_failed_completion_is_not_cached(
    fake_upstream: FakeUpstream, kv_store: SqlKeyValueStore
) -> None:
    fake_upstream.state.failures["hello"] = 1
    cache = Cache([MemoryLevel(100, 60), StoreLevel(kv_store)], default_ttl_s=60)
    gw = LLMGateway(config_for(fake_upstream), cache=cache)
    try:
        with pytest.raises(UpstreamError):
            await gw.chat(HELLO)
        answer = await gw.chat(HELLO)
    finally:
        await gw.aclose()
    assert answer["choices"][0]["message"]["content"] == "HELLO BRAVE NEW WORLD"
    assert fake_upstream.state.calls == 2


# --- streaming ---


async def test_stream_passes_chunks_through_and_ends_with_done(
    gateway: LLMGateway, fake_upstream: FakeUpstream
) -> None:
    stream = await gateway.stream_chat(HELLO)
    received = await events(stream)
    assert received[-1] == "data: [DONE]\n\n"
    pieces = [
        json.loads(e[len("data: ") :])["choices"][0]["delta"]["content"] for e in received[:-1]
    ]
    assert "".join(pieces) == "HELLO BRAVE NEW WORLD"
    assert fake_upstream.state.requests[-1]["stream"] is True
    assert fake_upstream.state.streams_completed == 1


async def test_first_chunk_arrives_before_the_upstream_finishes(
    gateway: LLMGateway, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.state.chunk_delay_s = 0.3
    stream = await gateway.stream_chat(HELLO)
    iterator = stream.__aiter__()
    first = await anext(iterator)
    assert first.startswith(b"data: {")
    assert fake_upstream.state.streams_completed == 0
    assert fake_upstream.state.in_flight == 1
    rest = [chunk async for chunk in iterator]
    assert rest[-1] == b"data: [DONE]\n\n"
    assert fake_upstream.state.streams_completed == 1


async def test_closing_the_stream_closes_the_upstream_request(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.state.chunk_delay_s = 0.5
    gw = LLMGateway(config_for(fake_upstream, concurrency=1))
    try:
        stream = await gw.stream_chat(HELLO)
        await anext(stream.__aiter__())
        await stream.aclose()
        await wait_until(lambda: fake_upstream.state.disconnects == 1)
        assert fake_upstream.state.streams_completed == 0
        # The only concurrency slot is free again.
        fake_upstream.state.chunk_delay_s = 0
        again = await asyncio.wait_for(gw.stream_chat(HELLO), 5)
        assert (await events(again))[-1] == "data: [DONE]\n\n"
    finally:
        await gw.aclose()


async def test_cancelling_the_reader_closes_the_upstream_request(
    gateway: LLMGateway, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.state.chunk_delay_s = 0.5
    stream = await gateway.stream_chat(HELLO)
    first_seen = asyncio.Event()

    async def read() -> None:
        async for _ in stream:
            first_seen.set()

    reader = asyncio.create_task(read())
    await asyncio.wait_for(first_seen.wait(), 5)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    await wait_until(lambda: fake_upstream.state.disconnects == 1)
    assert fake_upstream.state.streams_completed == 0


async def test_stream_errors_come_before_any_chunk(
    gateway: LLMGateway, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.state.failures["hello"] = None
    with pytest.raises(UpstreamError, match="500"):
        await gateway.stream_chat(HELLO)
    with pytest.raises(ModelNotAllowed):
        await gateway.stream_chat({**HELLO, "model": "other"})


async def test_stream_broken_off_upstream_ends_with_an_error_event(
    gateway: LLMGateway, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.state.stream_break_after = 2
    stream = await gateway.stream_chat(HELLO)
    received = await events(stream)
    assert len(received) == 4  # two chunks, the error, [DONE]
    error = json.loads(received[2][len("data: ") :])
    assert "broke off" in error["error"]["message"]
    assert received[-1] == "data: [DONE]\n\n"
