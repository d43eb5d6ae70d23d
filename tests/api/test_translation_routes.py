"""Translation routes: text, batches, languages, whole documents."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from docmill.config import Settings
from docmill.devtools.fake_llm import FakeUpstream
from docmill.store.translations import TranslationRepository
from tests.conftest import SettingsFactory, register, upload_bytes, wait_for_status
from tests.support.documents import text_pdf
from tests.support.polling import wait_until
from tests.support.server import free_port, live_server


def translate_settings(
    make_settings: SettingsFactory, upstream: FakeUpstream, **extra: Any
) -> Settings:
    values: dict[str, Any] = {
        "llm_base_url": upstream.openai_base_url,
        "llm_default_model": "fake-small",
        "mt_url": upstream.url,
        "translate_concurrency": 4,
        "translate_retries": 2,
    }
    values.update(extra)
    return make_settings(**values)


async def authorized(client: httpx.AsyncClient) -> httpx.AsyncClient:
    client.headers["Authorization"] = f"Bearer {await register(client)}"
    return client


async def test_nothing_configured_is_a_503_saying_what_to_set(
    make_settings: SettingsFactory,
) -> None:
    async with live_server(make_settings(), run_jobs=False) as live, live.client() as client:
        await authorized(client)
        response = await client.post(
            "/api/mt/translate", json={"text": "hi", "source_lang": "en", "target_lang": "fr"}
        )
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "translator_not_configured"
    assert "DOCMILL_MT_URL" in body["message"] and "DOCMILL_LLM_BASE_URL" in body["message"]


async def test_translate_text_with_the_default_engine_then_from_cache(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    settings = translate_settings(make_settings, fake_upstream)
    request = {"text": "Hello $x^2$ world", "source_lang": "en", "target_lang": "fr"}
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        await authorized(client)
        first = await client.post("/api/mt/translate", json=request)
        second = await client.post("/api/mt/translate", json=request)
    assert first.status_code == 200, first.text
    data = first.json()
    assert data == {
        "translated_text": "HELLO $x^2$ WORLD",
        "source_lang": "en",
        "target_lang": "fr",
        "engine": "llm",
    }
    assert second.json() == data
    assert fake_upstream.state.calls == 1


async def test_translations_survive_a_restart(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    settings = translate_settings(make_settings, fake_upstream)
    request = {"text": "persist me", "source_lang": "en", "target_lang": "de"}
    for _ in range(2):
        async with live_server(settings, run_jobs=False) as live, live.client() as client:
            await authorized(client)
            response = await client.post("/api/mt/translate", json=request)
            assert response.json()["translated_text"] == "PERSIST ME"
    assert fake_upstream.state.calls == 1
    assert live.services.language.cache.stats()["l3"].hits == 1


async def test_batch_reports_failures_per_item_in_order(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    for marker in ("bad1", "bad2", "bad3"):
        fake_upstream.state.failures[marker] = None
    items = [{"index": i, "text": f"line {i}"} for i in range(40)]
    for position, marker in ((2, "bad1"), (17, "bad2"), (39, "bad3")):
        items[position] = {"index": position, "text": f"{marker} text"}
    settings = translate_settings(make_settings, fake_upstream)
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        await authorized(client)
        body = {"items": items, "source_lang": "en", "target_lang": "fr"}
        response = await client.post("/api/mt/translate/batch", json=body)
        alias = await client.post("/api/translate/batch", json={**body, "items": items[:3]})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["count"] == 40 and data["failed"] == 3 and data["timestamp"]
    results = data["results"]
    assert [r["index"] for r in results] == list(range(40))
    for r in results:
        if r["index"] in (2, 17, 39):
            assert r["translated_text"] is None
            assert "injected failure" in r["error"]
        else:
            assert r["translated_text"] == f"LINE {r['index']}"
            assert r["error"] is None
    assert alias.status_code == 200
    assert [r["translated_text"] for r in alias.json()["results"]] == [
        "LINE 0",
        "LINE 1",
        None,
    ]


async def test_mt_engine_and_its_languages(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    settings = translate_settings(make_settings, fake_upstream, translate_engine="mt")
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        await authorized(client)
        batch = await client.post(
            "/api/mt/translate/batch",
            json={"items": [{"index": 7, "text": "bonjour"}], "target_lang": "en"},
        )
        pairs = (await client.get("/api/mt/languages")).json()
        llm_pairs = (await client.get("/api/mt/languages", params={"engine": "llm"})).json()
    assert batch.json()["results"] == [
        {"index": 7, "translated_text": "[en] bonjour", "error": None}
    ]
    assert batch.json()["engine"] == "mt"
    assert pairs["engine"] == "mt"
    assert {"source": "en", "target": "fr", "description": "English to French"} in pairs[
        "supported_pairs"
    ]
    assert {"source": "en", "target": "ja"} in [
        {"source": p["source"], "target": p["target"]} for p in llm_pairs["supported_pairs"]
    ]


async def test_bad_language_and_engine_are_client_errors(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    settings = translate_settings(make_settings, fake_upstream)
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        await authorized(client)
        bad_lang = await client.post(
            "/api/mt/translate", json={"text": "hi", "target_lang": "../../etc"}
        )
        bad_engine = await client.post(
            "/api/mt/translate", json={"text": "hi", "target_lang": "fr", "engine": "babel"}
        )
        anonymous = await client.post(
            "/api/mt/translate",
            json={"text": "hi", "target_lang": "fr"},
            headers={"Authorization": ""},
        )
    assert bad_lang.status_code == 422
    assert bad_lang.json()["error"] == "invalid_language"
    assert bad_engine.status_code == 400
    assert anonymous.status_code == 401
    assert fake_upstream.state.calls == 0


async def wait_for_translation(
    client: httpx.AsyncClient, task_id: str, lang: str, timeout_s: float = 30
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        response = await client.get(f"/api/tasks/{task_id}/translation", params={"lang": lang})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        if data["status"] in ("completed", "failed"):
            return dict(data)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"translation stuck: {data}")
        await asyncio.sleep(0.1)


async def test_document_translation_in_the_background(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream, database_url: str
) -> None:
    settings = translate_settings(
        make_settings, fake_upstream, default_engine="slow", database_url=database_url
    )
    pdf = text_pdf([["The quick brown fox.", "Second line here."]], title="Report")
    async with live_server(settings) as live, live.client() as client:
        await authorized(client)
        task = (await upload_bytes(client, pdf, "report.pdf")).json()["data"]
        done = await wait_for_status(client, task["id"], ("completed", "failed"))
        assert done["status"] == "completed", done["error_message"]

        async with live.services.events.subscribe(done["user_id"]) as events:
            accepted = await client.post(
                f"/api/tasks/{task['id']}/translate", json={"target_lang": "fr"}
            )
            assert accepted.status_code == 202, accepted.text
            assert accepted.json()["data"]["status"] == "pending"
            translation = await wait_for_translation(client, task["id"], "fr")
            seen = []
            while not events.queue.empty():
                seen.append(await events.next())

        assert translation["status"] == "completed", translation["error_message"]
        assert translation["blocks_failed"] == 0
        assert translation["engine"] == "llm"
        original = (await client.get(f"/api/tasks/{task['id']}/blocks")).json()["data"]
        # Figures are not translated: their content is the image link in both.
        originals = [b["content"] for b in original["preproc_blocks"] if b["type"] != "image"]
        translated = [b["content"] for b in translation["blocks"] if b["type"] != "image"]
        assert translated == [t.upper() for t in originals]
        assert [b["kind"] for b in translation["blocks"]] == [
            b["kind"] for b in original["preproc_blocks"]
        ]
        assert "THE QUICK BROWN FOX." in translation["markdown_content"]
        assert "REPORT" in translation["markdown_content"]
        statuses = [e["translation"]["status"] for e in seen if e["type"] == "translation.updated"]
        assert statuses[0] == "pending" and statuses[-1] == "completed"

        listed = (await client.get(f"/api/tasks/{task['id']}/translations")).json()["data"]
        assert [t["target_lang"] for t in listed] == ["fr"]
        missing = await client.get(f"/api/tasks/{task['id']}/translation", params={"lang": "de"})
        assert missing.status_code == 404

        # Another user cannot start or read it.
        async with live.client() as stranger:
            await authorized(stranger)
            url = f"/api/tasks/{task['id']}/translat"
            assert (await stranger.post(url + "e", json={"target_lang": "de"})).status_code == 404
            read = await stranger.get(url + "ion", params={"lang": "fr"})
            assert read.status_code == 404

        # Deleting the task deletes its translations.
        assert (await client.delete(f"/api/tasks/{task['id']}")).status_code == 200
        async with live.services.sessions() as session:
            assert await TranslationRepository(session).list_for_task(task["id"]) == []


async def test_document_translation_needs_a_completed_task(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    settings = translate_settings(make_settings, fake_upstream, default_engine="slow")
    pdf = text_pdf([["Nothing yet."]])
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        await authorized(client)
        task = (await upload_bytes(client, pdf, "wait.pdf")).json()["data"]
        response = await client.post(
            f"/api/tasks/{task['id']}/translate", json={"target_lang": "fr"}
        )
    assert response.status_code == 409
    assert response.json()["error"] == "task_not_ready"


async def test_unfinished_document_translation_resumes_after_a_restart(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    settings = translate_settings(make_settings, fake_upstream, default_engine="slow")
    pdf = text_pdf([["Stopped halfway."]])
    async with live_server(settings) as live, live.client() as client:
        token = await register(client)
        client.headers["Authorization"] = f"Bearer {token}"
        task = (await upload_bytes(client, pdf, "halfway.pdf")).json()["data"]
        assert (await wait_for_status(client, task["id"], ("completed",)))["status"]
        fake_upstream.state.latency_s = 1.0
        accepted = await client.post(
            f"/api/tasks/{task['id']}/translate", json={"target_lang": "ja"}
        )
        assert accepted.status_code == 202
        await wait_until(lambda: fake_upstream.state.in_flight == 1)
    # Stopped with the translation in flight; the next start picks it up.
    fake_upstream.state.latency_s = 0
    async with live_server(settings) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {token}"
        translation = await wait_for_translation(client, task["id"], "ja")
    assert translation["status"] == "completed"
    assert translation["blocks"][0]["content"] == "STOPPED HALFWAY."


async def test_oversized_batch_is_refused(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    settings = translate_settings(make_settings, fake_upstream)
    items = [{"index": i, "text": "x" * 40_000} for i in range(60)]
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        await authorized(client)
        response = await client.post(
            "/api/mt/translate/batch", json={"items": items, "target_lang": "fr"}
        )
    assert response.status_code == 422
    assert "limit" in response.json()["message"]
    assert fake_upstream.state.calls == 0


async def test_redis_outage_is_no_error_for_the_user(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    settings = translate_settings(make_settings, fake_upstream, redis_url=dead_redis)
    request = {"text": "still works", "source_lang": "en", "target_lang": "fr"}
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        await authorized(client)
        first = await client.post("/api/mt/translate", json=request)
        second = await client.post("/api/mt/translate", json=request)
        stats = live.services.language.cache.stats()
    assert first.status_code == second.status_code == 200
    assert second.json()["translated_text"] == "STILL WORKS"
    assert fake_upstream.state.calls == 1
    assert stats["l2"].errors >= 1


async def test_cache_lookups_are_counted_in_metrics(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    settings = translate_settings(make_settings, fake_upstream)
    request = {"text": "count me", "source_lang": "en", "target_lang": "fr"}
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        await authorized(client)
        for _ in range(2):
            assert (await client.post("/api/mt/translate", json=request)).status_code == 200
        metrics = (await client.get("/metrics")).text
    assert 'docmill_cache_total{level="l1",outcome="hit"} 1.0' in metrics
    assert 'docmill_cache_total{level="l3",outcome="miss"} 1.0' in metrics
