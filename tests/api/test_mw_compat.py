"""MonkeyOCR-WebApp clients against a real docmill: one test per row of API.md's
"Compatibility with MonkeyOCR-WebApp clients" table, sending what the client sends and
asserting the fields (and types) it reads; then the bad inputs those routes get."""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest

from docmill.config import Settings
from docmill.devtools.fake_llm import FakeUpstream
from docmill.health import HealthMonitor
from docmill.security import issue_token
from tests.conftest import SettingsFactory, upload_bytes, wait_for_status
from tests.support.documents import text_pdf
from tests.support.monkeyocr import StandIn
from tests.support.polling import wait_until
from tests.support.server import LiveServer, free_port, live_server

PASSWORD = "correct horse battery"
JWT = re.compile(r"^[\w-]+\.[\w-]+\.[\w-]+$")
LLM_KEY = "sk-upstream-secret-0123456789"
JSON = {"Content-Type": "application/json"}
MW_TYPES = {"title", "text", "image", "table", "interline_equation", "list"}


def mw_settings(make_settings: SettingsFactory, upstream: FakeUpstream, **extra: Any) -> Settings:
    """Machine translation through an MT server, as MonkeyOCR-WebApp's backend has it."""
    values: dict[str, Any] = {
        "mt_url": upstream.url,
        "llm_base_url": upstream.openai_base_url,
        "llm_default_model": "fake-small",
        "llm_api_key": LLM_KEY,
        "translate_engine": "mt",
        "sync_settle_s": 0,
    }
    values.update(extra)
    return make_settings(**values)


@pytest.fixture
async def mw(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> AsyncIterator[LiveServer]:
    async with live_server(mw_settings(make_settings, fake_upstream)) as live:
        yield live


async def _never_500(response: httpx.Response) -> None:
    assert response.status_code != 500, f"{response.request.url} answered 500"


def client_of(live: LiveServer) -> httpx.AsyncClient:
    """A client of `live` that fails the test on any 500 (a bug, never an answer)."""
    return live.client(event_hooks={"response": [_never_500]})


async def mw_register(client: httpx.AsyncClient) -> tuple[httpx.Response, str]:
    """POST /api/auth/register as the client's RegisterForm does; (response, username)."""
    username = f"mw_{uuid.uuid4().hex[:8]}"
    response = await client.post(
        "/api/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
    )
    return response, username


@asynccontextmanager
async def signed_in(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding the token that registering gave it."""
    async with client_of(live) as client:
        response, _ = await mw_register(client)
        client.headers["Authorization"] = f"Bearer {response.json()['token']}"
        yield client


def assert_auth_answer(body: dict[str, Any], username: str) -> None:
    """What the client's auth store reads: `body.user.*` and `body.token` (a JWT string)."""
    user = body["user"]
    assert isinstance(user["id"], int)
    assert user["username"] == username
    assert user["email"] == f"{username}@example.com"
    assert isinstance(user["is_verified"], bool) and user["is_active"] is True
    assert isinstance(body["token"], str) and JWT.match(body["token"])
    assert "success" not in body and "data" not in body


def assert_error_envelope(response: httpx.Response, status: int) -> dict[str, Any]:
    """Errors keep the envelope; the client shows `.detail`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["data"] is None
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["detail"], str) and body["detail"] == body["message"]
    return dict(body)


# -- one test per row of the compatibility table ------------------------------------------


async def test_register(mw: LiveServer) -> None:
    async with client_of(mw) as client:
        response, username = await mw_register(client)
    assert response.status_code == 201
    assert_auth_answer(response.json(), username)


async def test_login(mw: LiveServer) -> None:
    async with client_of(mw) as client:
        _, username = await mw_register(client)
        response = await client.post(
            "/api/auth/login", json={"email_or_username": username, "password": PASSWORD}
        )
        assert response.status_code == 200
        body = response.json()
        assert_auth_answer(body, username)
        me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200


async def test_token_renew(mw: LiveServer) -> None:
    async with signed_in(mw) as client:
        response = await client.post("/api/auth/token/renew")
        assert response.status_code == 200
        token = response.json()["token"]
        assert isinstance(token, str) and JWT.match(token)
        me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200


async def test_me(mw: LiveServer) -> None:
    async with signed_in(mw) as client:
        await upload_bytes(client, text_pdf([["public"]]), is_public="true", engine="slow")
        response = await client.get("/api/auth/me")
    assert response.status_code == 200
    me = response.json()
    assert isinstance(me["id"], int) and isinstance(me["username"], str)
    assert me["email"] == f"{me['username']}@example.com" and me["is_active"] is True
    assert isinstance(me["created_at"], str) and me["created_at"]
    assert (me["total_tasks"], me["completed_tasks"], me["public_tasks"]) in {(1, 0, 1), (1, 1, 1)}


async def test_validate(mw: LiveServer) -> None:
    async with signed_in(mw) as client:
        me = (await client.get("/api/auth/me")).json()
        valid = await client.get("/api/auth/validate")
        expired, _ = issue_token(me["id"], mw.settings.signing_key, timedelta(seconds=-5))
        anonymous = await client.get("/api/auth/validate", headers={"Authorization": ""})
        garbage = await client.get(
            "/api/auth/validate", headers={"Authorization": "Bearer not.a.token"}
        )
        stale = await client.get(
            "/api/auth/validate", headers={"Authorization": f"Bearer {expired}"}
        )
    assert valid.status_code == 200
    assert valid.json() == {
        "valid": True,
        "user": {"id": me["id"], "username": me["username"], "email": me["email"]},
    }
    for response in (anonymous, garbage, stale):
        assert response.status_code == 200 and response.json() == {"valid": False}


async def test_password(mw: LiveServer) -> None:
    async with signed_in(mw) as client:
        username = (await client.get("/api/auth/me")).json()["username"]
        response = await client.post(
            "/api/auth/password", json={"old_password": PASSWORD, "new_password": "a new password"}
        )
        assert response.status_code == 204 and response.content == b""
        login = await client.post(
            "/api/auth/login", json={"email_or_username": username, "password": "a new password"}
        )
    assert login.status_code == 200 and isinstance(login.json()["token"], str)


async def test_health(mw: LiveServer) -> None:
    async with client_of(mw) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["services"]["database"] == "ok"


async def test_sync_status(make_settings: SettingsFactory) -> None:
    settings = make_settings(sync_settle_s=0)
    # No job runs, so nothing changes between the two calls.
    async with live_server(settings, run_jobs=False) as live, signed_in(live) as client:
        for name in ("a.pdf", "b.pdf"):
            await upload_bytes(client, text_pdf([[name]]), name)
        status = await client.get("/api/sync/status")
        sync = await client.get("/api/sync")
    assert status.status_code == 200
    body = status.json()
    assert body["success"] is True
    data_hash = body["data"]["data_hash"]
    assert isinstance(data_hash, str) and '"' not in data_hash
    assert data_hash == sync.headers["ETag"].strip('"')
    stats = body["data"]["task_stats"]
    assert set(stats) == {"pending", "processing", "completed", "failed", "cancelled"}
    assert stats["pending"] == 2 and sum(stats.values()) == 2


async def test_mt_translate(mw: LiveServer) -> None:
    async with signed_in(mw) as client:
        response = await client.post(
            "/api/mt/translate", json={"text": "你好", "source_lang": "zh", "target_lang": "en"}
        )
    assert response.status_code == 200
    body = response.json()
    assert body["translated_text"] == "[en] 你好"
    assert (body["source_lang"], body["target_lang"]) == ("zh", "en")


async def test_mt_translate_batch(mw: LiveServer) -> None:
    items = [
        {"index": 5, "text": "five"},
        {"index": 2, "text": "two"},
        {"index": 9, "text": "nine"},
    ]
    async with signed_in(mw) as client:
        for path in ("/api/mt/translate/batch", "/api/translate/batch"):
            response = await client.post(
                path, json={"items": items, "source_lang": "en", "target_lang": "zh"}
            )
            assert response.status_code == 200
            body = response.json()
            assert [(r["index"], r["translated_text"]) for r in body["results"]] == [
                (5, "[zh] five"),
                (2, "[zh] two"),
                (9, "[zh] nine"),
            ]
            assert body["count"] == 3
            assert isinstance(body["timestamp"], str)


async def test_mt_languages(mw: LiveServer) -> None:
    async with signed_in(mw) as client:
        response = await client.get("/api/mt/languages")
    assert response.status_code == 200
    body = response.json()
    codes = [language["code"] for language in body["languages"]]
    assert {"en", "zh"} <= set(codes)
    english = next(language for language in body["languages"] if language["code"] == "en")
    assert english == {"code": "en", "name": "English", "native_name": "English"}
    assert (body["default_source"], body["default_target"]) == ("en", "zh")
    pairs = body["supported_pairs"]
    assert {"source": "en", "target": "zh", "description": "English to Chinese (Simplified)"} in (
        pairs
    )
    assert all(set(pair) == {"source", "target", "description"} for pair in pairs)


async def test_mt_health(mw: LiveServer, fake_upstream: FakeUpstream) -> None:
    async with client_of(mw) as client:  # the client asks without credentials
        response = await client.get("/api/mt/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy" and body["service_available"] is True
    assert {"en", "zh"} <= set(body["supported_languages"])
    assert body["features"] == {
        "single_translation": True,
        "batch_translation": True,
        "max_batch_size": 10_000,
    }
    port = fake_upstream.url.rsplit(":", 1)[1]
    assert port not in response.text and "127.0.0.1" not in response.text
    assert LLM_KEY not in response.text


async def test_blocks(make_settings: SettingsFactory, monkeyocr: StandIn) -> None:
    settings = make_settings(monkeyocr_url=monkeyocr.url, monkeyocr_timeout_s=10.0)
    async with live_server(settings) as live, signed_in(live) as client:
        accepted = await upload_bytes(
            client, text_pdf([["one"], ["two"]]), "report.pdf", engine="monkeyocr"
        )
        task_id = accepted.json()["data"]["id"]
        done = await wait_for_status(client, task_id, ("completed", "failed"))
        assert done["status"] == "completed", done["error_message"]
        response = await client.get(f"/api/tasks/{task_id}/blocks")
        assert response.status_code == 200
        data = response.json()["data"]
        blocks, discarded = data["preproc_blocks"], data["discarded_blocks"]

        assert [b["index"] for b in blocks] == list(range(1, len(blocks) + 1))
        for block in blocks:
            assert block["type"] in MW_TYPES, block
            assert isinstance(block["content"], str) and isinstance(block["kind"], str)
            assert block["page_num"] in (1, 2) and len(block["page_size"]) == 2
            assert len(block["bbox"]) == 4
        kinds = {(b["type"], b["kind"]) for b in blocks}
        assert {
            ("title", "title"),
            ("image", "figure"),
            ("text", "figure_caption"),
            ("table", "table"),
            ("interline_equation", "equation"),
        } <= kinds

        figure = next(b for b in blocks if b["type"] == "image")
        link = re.fullmatch(r"!\[([^\]]*)\]\((/media/[^)]+\?exp=\d+&sig=\w+)\)", figure["content"])
        assert link, figure["content"]
        assert (await client.get(link.group(2), headers={"Authorization": ""})).status_code == 200
        equation = next(b for b in blocks if b["type"] == "interline_equation")
        assert equation["content"].startswith("$$") and equation["content"].endswith("$$")
        assert "\\int_0^1 x^2 dx" in equation["content"]

        texts = " ".join(b["content"] for b in blocks)
        assert "Stand-in header" not in texts and "- 1 -" not in texts
        assert {b["kind"] for b in discarded} == {"header", "footer"}
        assert {b["content"] for b in discarded} >= {"Stand-in header", "- 1 -", "- 2 -"}
        assert all(b["type"] == "discarded" for b in discarded)

        # The ZIP keeps docmill's own model.
        download = await client.get(f"/api/download/{task_id}")
        with zipfile.ZipFile(io.BytesIO(download.content)) as bundle:
            stored = json.loads(bundle.read("blocks.json"))
    assert {"figure", "equation", "header", "footer"} <= {block["type"] for block in stored}


# -- health: degraded, never down ------------------------------------------------------


async def test_health_names_a_failing_dependency_and_stays_200(
    make_settings: SettingsFactory,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    settings = make_settings(monkeyocr_url=dead, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with live_server(settings, run_jobs=False) as live, client_of(live) as client:
        response = await client.get("/health")
        api = await client.get("/api/health")
        ready = await client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["services"]["database"] == "ok"
    assert body["services"]["monkeyocr"].startswith("error")
    assert body["services"]["redis"].startswith("error")
    assert dead not in response.text
    assert api.status_code == 200 and api.json()["data"]["status"] == "degraded"
    assert ready.status_code == 503  # the strict probe


async def test_health_is_cheap_many_calls_one_probe(
    make_settings: SettingsFactory, monkeyocr: StandIn
) -> None:
    settings = make_settings(monkeyocr_url=monkeyocr.url)
    async with live_server(settings, run_jobs=False) as live, client_of(live) as client:
        monkeyocr.behave()
        answers = [(await client.get("/health")).json()["status"] for _ in range(50)]
    assert answers == ["healthy"] * 50
    # The report is reused for a couple of seconds: 50 calls, a few probes upstream.
    assert 1 <= monkeyocr.server.stats.health_requests < 10


async def test_health_report_is_refreshed_in_the_background() -> None:
    states = iter([{"database": "ok"}, {"database": "error: gone"}])
    probes = 0

    async def probe() -> dict[str, str]:
        nonlocal probes
        probes += 1
        return next(states)

    monitor = HealthMonitor(probe, max_age_s=0.05)
    first, body = await monitor.report()
    assert first.status == "healthy" and json.loads(body)["status"] == "healthy"
    await asyncio.sleep(0.1)
    stale, _ = await monitor.report()  # answers at once, refreshes behind
    assert stale.status == "healthy"
    await wait_until(lambda: probes == 2)
    await asyncio.sleep(0)
    fresh, body = await monitor.report()
    assert fresh.status == "degraded" and fresh.services == {"database": "error: gone"}
    assert json.loads(body)["services"] == {"database": "error: gone"}
    await monitor.close()


# -- bad input on the same routes: the error envelope with `detail`, never a 500 ----------


async def test_bad_auth_requests_get_the_error_envelope(mw: LiveServer) -> None:
    async with client_of(mw) as client:
        _, username = await mw_register(client)
        wrong = await client.post(
            "/api/auth/login", json={"email_or_username": username, "password": "not it at all"}
        )
        assert_error_envelope(wrong, 401)
        assert "success" in wrong.json() and "token" not in wrong.json()
        assert_error_envelope(await client.post("/api/auth/login", json={"password": "x"}), 422)
        assert_error_envelope(
            await client.post("/api/auth/register", json={"username": "someone"}), 422
        )
        assert_error_envelope(
            await client.post("/api/auth/register", content=b"{not json", headers=JSON), 422
        )
        duplicate = await client.post(
            "/api/auth/register",
            json={"username": username, "email": "x@example.com", "password": PASSWORD},
        )
        assert_error_envelope(duplicate, 409)
        for method, path in (
            ("POST", "/api/auth/token/renew"),
            ("GET", "/api/auth/me"),
            ("POST", "/api/auth/password"),
        ):
            assert_error_envelope(await client.request(method, path, json={}), 401)


async def test_bad_password_changes_get_the_error_envelope(mw: LiveServer) -> None:
    async with signed_in(mw) as client:
        wrong = await client.post(
            "/api/auth/password", json={"old_password": "wrong one!", "new_password": "x" * 12}
        )
        assert "password" in assert_error_envelope(wrong, 403)["detail"]
        missing = await client.post("/api/auth/password", json={"new_password": "x" * 12})
        assert "old_password" in assert_error_envelope(missing, 422)["detail"]
        short = await client.post(
            "/api/auth/password", json={"old_password": PASSWORD, "new_password": "short"}
        )
        assert_error_envelope(short, 422)


async def test_bad_translation_requests_get_the_error_envelope(mw: LiveServer) -> None:
    async with signed_in(mw) as client, client_of(mw) as anonymous:
        body = {"text": "hi", "source_lang": "en", "target_lang": "zh"}
        assert_error_envelope(await anonymous.post("/api/mt/translate", json=body), 401)
        assert_error_envelope(await anonymous.get("/api/mt/languages"), 401)
        assert_error_envelope(await client.post("/api/mt/translate", json={"text": "hi"}), 422)
        bad_lang = await client.post("/api/mt/translate", json=body | {"target_lang": "<x>"})
        assert_error_envelope(bad_lang, 422)
        not_a_list = {"items": "hello", "source_lang": "en", "target_lang": "zh"}
        assert_error_envelope(await client.post("/api/mt/translate/batch", json=not_a_list), 422)
        no_index = {"items": [{"text": "a"}], "target_lang": "zh"}
        assert_error_envelope(await client.post("/api/mt/translate/batch", json=no_index), 422)
        assert_error_envelope(await client.get("/api/mt/health", params={"engine": "babel"}), 400)


async def test_mt_server_down_is_reported_without_naming_it(
    make_settings: SettingsFactory, fake_upstream: FakeUpstream
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    settings = mw_settings(make_settings, fake_upstream, mt_url=dead, translate_retries=1)
    async with live_server(settings, run_jobs=False) as live, signed_in(live) as client:
        single = await client.post(
            "/api/mt/translate", json={"text": "hi", "source_lang": "en", "target_lang": "zh"}
        )
        batch = await client.post(
            "/api/mt/translate/batch",
            json={"items": [{"index": 1, "text": "hi"}], "source_lang": "en", "target_lang": "zh"},
        )
        health = await client.get("/api/mt/health")
    assert_error_envelope(single, 502)
    assert batch.status_code == 200
    [result] = batch.json()["results"]
    assert result["index"] == 1 and result["translated_text"] is None and result["error"]
    assert health.status_code == 200
    assert health.json()["status"] == "degraded" and health.json()["service_available"] is False
    assert health.json()["supported_languages"] == []
    for response in (single, batch, health):
        assert dead.split("//")[1] not in response.text and LLM_KEY not in response.text


async def test_mt_health_without_any_engine_is_degraded(make_settings: SettingsFactory) -> None:
    async with live_server(make_settings(), run_jobs=False) as live, client_of(live) as client:
        response = await client.get("/api/mt/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["service_available"] is False
    assert body["features"]["single_translation"] is False


async def test_blocks_of_unready_or_foreign_tasks_get_the_error_envelope(
    make_settings: SettingsFactory,
) -> None:
    async with (
        live_server(make_settings(), run_jobs=False) as live,
        signed_in(live) as owner,
        signed_in(live) as stranger,
    ):
        task = (await upload_bytes(owner, text_pdf([["wait"]]))).json()["data"]
        assert_error_envelope(await owner.get(f"/api/tasks/{task['id']}/blocks"), 409)
        assert_error_envelope(await stranger.get(f"/api/tasks/{task['id']}/blocks"), 404)
        assert_error_envelope(
            await owner.get("/api/sync/status", headers={"Authorization": ""}), 401
        )
