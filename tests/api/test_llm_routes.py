"""The OpenAI-compatible LLM routes against a live docmill and the fake upstream."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from docmill.config import Settings
from docmill.devtools.fake_llm import FakeUpstream
from tests.conftest import SettingsFactory, register
from tests.support.polling import wait_until
from tests.support.server import live_server

HELLO = {"messages": [{"role": "user", "content": "hello brave new world"}]}


def llm_settings(make_settings: SettingsFactory, upstream: FakeUpstream, **extra: Any) -> Settings:
    return make_settings(
        llm_base_url=upstream.openai_base_url,
        llm_api_key="upstream-secret",
        llm_models=["fake-small", "fake-large"],
        llm_default_model="fake-small",
        llm_max_tokens=128,
        llm_max_request_kb=4,
        **extra,
    )


async def test_without_an_llm_the_routes_say_what_to_set(make_settings: SettingsFactory) -> None:
    async with live_server(make_settings(), run_jobs=False) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        models = await client.get("/api/llm/models")
        chat = await client.post("/api/llm/chat/completions", json=HELLO)
    for response in (models, chat):
        assert response.status_code == 503
        assert "DOCMILL_LLM_BASE_URL" in response.json()["error"]["message"]
        assert response.headers["retry-after"]


async def test_llm_routes_need_credentials(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    settings = llm_settings(make_settings, fake_upstream)
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        assert (await client.get("/api/llm/models")).status_code == 401
        assert (await client.post("/api/llm/chat/completions", json=HELLO)).status_code == 401
    assert fake_upstream.state.calls == 0


async def test_models_and_a_completion(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    settings = llm_settings(make_settings, fake_upstream)
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        models = (await client.get("/api/llm/models")).json()
        answer = await client.post(
            "/api/llm/chat/completions", json={**HELLO, "max_tokens": 10_000}
        )
    assert [m["id"] for m in models["data"]] == ["fake-small", "fake-large"]
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "HELLO BRAVE NEW WORLD"
    sent = fake_upstream.state.requests[-1]
    assert sent["max_tokens"] == 128
    assert sent["model"] == "fake-small"


async def test_disallowed_model_and_oversized_body_are_refused(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    settings = llm_settings(make_settings, fake_upstream)
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        wrong = await client.post("/api/llm/chat/completions", json={**HELLO, "model": "gpt-9"})
        huge = await client.post(
            "/api/llm/chat/completions",
            json={"messages": [{"role": "user", "content": "x" * 10_000}]},
        )
        broken = await client.post(
            "/api/llm/chat/completions",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "model_not_allowed"
    assert huge.status_code == 413
    assert broken.status_code == 422
    assert fake_upstream.state.calls == 0


async def test_upstream_failure_is_a_502_with_its_reason(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.state.failures["hello"] = None
    settings = llm_settings(make_settings, fake_upstream)
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        response = await client.post("/api/llm/chat/completions", json=HELLO)
    assert response.status_code == 502
    assert "injected failure" in response.json()["error"]["message"]


async def test_identical_completion_is_served_from_cache_then_from_the_database(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    settings = llm_settings(make_settings, fake_upstream)
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        token = await register(client)
        client.headers["Authorization"] = f"Bearer {token}"
        first = (await client.post("/api/llm/chat/completions", json=HELLO)).json()
        second = (await client.post("/api/llm/chat/completions", json=HELLO)).json()
        assert first == second
        assert fake_upstream.state.calls == 1
        assert live.services.language.cache.stats()["l1"].hits == 1
    # The same app started again: L1 is empty, the database still knows.
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {token}"
        third = (await client.post("/api/llm/chat/completions", json=HELLO)).json()
        assert third == first
        assert live.services.language.cache.stats()["l3"].hits == 1
    assert fake_upstream.state.calls == 1


@pytest.mark.redis
async def test_a_second_instance_is_served_from_redis(
    make_settings: SettingsFactory,
    fake_upstream: FakeUpstream,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Any,
) -> None:
    # Two instances with their own databases, sharing only Redis.
    for name in ("one", "two"):
        settings = llm_settings(
            make_settings,
            fake_upstream,
            data_dir=tmp_path / name,
            redis_url=redis_url,
            cache_redis_prefix=redis_prefix,
        )
        async with live_server(settings, run_jobs=False) as live, live.client() as client:
            client.headers["Authorization"] = f"Bearer {await register(client)}"
            answer = await client.post("/api/llm/chat/completions", json=HELLO)
            assert answer.status_code == 200
            stats = live.services.language.cache.stats()
    assert fake_upstream.state.calls == 1
    assert stats["l2"].hits == 1
    assert stats["l3"].hits == 0


async def test_stream_arrives_chunk_by_chunk_and_ends_with_done(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.state.chunk_delay_s = 0.3
    settings = llm_settings(make_settings, fake_upstream)
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        async with client.stream(
            "POST", "/api/llm/chat/completions", json={**HELLO, "stream": True}
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            first = await anext(lines)
            # The client holds the first chunk while the upstream is still writing.
            assert first.startswith("data: {")
            assert fake_upstream.state.streams_completed == 0
            rest = [line async for line in lines if line]
    events = [first, *rest]
    assert events[-1] == "data: [DONE]"
    text = "".join(
        json.loads(e[len("data: ") :])["choices"][0]["delta"]["content"] for e in events[:-1]
    )
    assert text == "HELLO BRAVE NEW WORLD"
    assert fake_upstream.state.streams_completed == 1


async def test_client_disconnect_closes_the_upstream_stream(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.state.chunk_delay_s = 1.0
    settings = llm_settings(make_settings, fake_upstream, llm_concurrency=1)
    async with live_server(settings, run_jobs=False) as live:
        async with live.client() as client:
            token = await register(client)
            client.headers["Authorization"] = f"Bearer {token}"
            async with client.stream(
                "POST", "/api/llm/chat/completions", json={**HELLO, "stream": True}
            ) as response:
                await anext(response.aiter_lines())
            # Leaving the block closes the connection: the client is gone.
        await wait_until(lambda: fake_upstream.state.disconnects == 1)
        assert fake_upstream.state.streams_completed == 0
        await wait_until(lambda: fake_upstream.state.in_flight == 0)
        # The one concurrency slot was given back: another request gets through.
        fake_upstream.state.chunk_delay_s = 0
        async with httpx.AsyncClient(
            base_url=live.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as again:
            answer = await again.post("/api/llm/chat/completions", json=HELLO)
        assert answer.status_code == 200
