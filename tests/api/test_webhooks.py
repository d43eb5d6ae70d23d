"""Webhooks: a signed POST when a task ends, retried with backoff from rows that survive a
restart, each attempt recorded; callback targets pass the same SSRF guard as upload-url."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from docmill.client import verify_webhook
from docmill.store.db import transaction
from docmill.store.models import Task
from docmill.store.users import UserRepository
from docmill.store.webhooks import WebhookRepository
from tests.conftest import SettingsFactory, register, upload_bytes, wait_for_status
from tests.support.documents import text_pdf
from tests.support.http import serve_routes
from tests.support.polling import wait_until
from tests.support.server import LiveServer, live_server

PDF = text_pdf([["A document whose end is announced."]])
FAST_RETRIES = {
    "webhook_allow_hosts": ["127.0.0.1"],
    "webhook_backoff_s": 0.2,
    "webhook_backoff_max_s": 1.0,
    "webhook_poll_s": 0.1,
}


class Receiver:
    """A webhook endpoint that answers 500 to the first `failures` calls, then 200."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[dict[str, str], bytes, int]] = []
        self.lock = threading.Lock()

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        with self.lock:
            code = 500 if len(self.calls) < self.failures else 200
            self.calls.append((dict(handler.headers.items()), body, code))
        handler.send_response(code)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    @property
    def successes(self) -> int:
        return sum(1 for *_, code in self.calls if code == 200)


async def _secret(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/webhooks/secret")
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["secret"])


async def _deliveries(client: httpx.AsyncClient, task_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/tasks/{task_id}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def test_failing_receiver_gets_exactly_one_signed_delivery(
    make_settings: SettingsFactory, database_url: str
) -> None:
    receiver = Receiver(failures=2)
    with serve_routes({"/hook": receiver}) as origin:
        settings = make_settings(database_url=database_url, **FAST_RETRIES)
        async with live_server(settings) as live, live.client() as client:
            client.headers["Authorization"] = f"Bearer {await register(client)}"
            secret = await _secret(client)
            response = await upload_bytes(client, PDF, callback_url=f"{origin}/hook")
            assert response.status_code == 202, response.text
            task_id = response.json()["data"]["id"]
            await wait_for_status(client, task_id, ("completed",))

            await wait_until(lambda: receiver.successes == 1, timeout_s=20)
            await asyncio.sleep(0.5)  # nothing more arrives once delivered
            assert [code for *_, code in receiver.calls] == [500, 500, 200]

            deliveries = await _deliveries(client, task_id)
            assert len(deliveries) == 1
            delivery = deliveries[0]
            assert delivery["status"] == "delivered"
            assert delivery["event"] == "task.completed"
            assert delivery["url"] == f"{origin}/hook"
            assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
            assert [a["number"] for a in delivery["attempts"]] == [1, 2, 3]
            assert delivery["attempts"][0]["error"] == "HTTP 500"

    for headers, body, _ in receiver.calls:
        assert headers["X-Docmill-Delivery"] == delivery["id"]
        assert headers["X-Docmill-Event"] == "task.completed"
        assert verify_webhook(
            secret, body, headers["X-Docmill-Timestamp"], headers["X-Docmill-Signature"]
        )
        assert not verify_webhook(
            secret, body + b" ", headers["X-Docmill-Timestamp"], headers["X-Docmill-Signature"]
        )
        payload = json.loads(body)
        assert payload["event"] == "task.completed"
        assert payload["task"]["id"] == task_id
        assert payload["task"]["status"] == "completed"
        assert payload["task"]["status_history"][-1]["status"] == "completed"


async def test_a_restart_between_attempts_still_delivers(make_settings: SettingsFactory) -> None:
    """The retry is a row: a new server (nothing kept in memory) sends it. The default
    callback URL of the user is used since the upload names none."""
    receiver = Receiver(failures=1)
    with serve_routes({"/hook": receiver}) as origin:
        settings = make_settings(**(FAST_RETRIES | {"webhook_backoff_s": 2.0}))
        async with live_server(settings) as live, live.client() as client:
            token = await register(client)
            client.headers["Authorization"] = f"Bearer {token}"
            await _secret(client)
            saved = await client.put("/api/webhooks", json={"default_url": f"{origin}/hook"})
            assert saved.status_code == 200, saved.text
            assert saved.json()["data"]["default_url"] == f"{origin}/hook"
            task_id = (await upload_bytes(client, PDF)).json()["data"]["id"]
            await wait_for_status(client, task_id, ("completed",))
            await wait_until(lambda: len(receiver.calls) == 1, timeout_s=20)
            for _ in range(100):
                (delivery,) = await _deliveries(client, task_id)
                if delivery["attempts"]:
                    break
                await asyncio.sleep(0.05)
            assert delivery["status"] == "pending"
            assert delivery["next_attempt_at"] is not None

        assert len(receiver.calls) == 1, "the first server stopped before the retry"
        async with live_server(settings) as live, live.client() as client:
            client.headers["Authorization"] = f"Bearer {token}"
            await wait_until(lambda: receiver.successes == 1, timeout_s=20)
            for _ in range(100):
                (delivery,) = await _deliveries(client, task_id)
                if delivery["status"] == "delivered":
                    break
                await asyncio.sleep(0.05)
            assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/hook", "http://10.0.0.7/hook", "http://169.254.169.254/latest"],
)
async def test_callback_to_a_private_address_is_refused_at_upload(
    server: LiveServer, url: str
) -> None:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        await _secret(client)
        response = await upload_bytes(client, PDF, callback_url=url)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "unsafe_url"
        default = await client.put("/api/webhooks", json={"default_url": url})
        assert default.status_code == 400
        listed = await client.get("/api/tasks")
        assert listed.json()["data"] == [], "nothing is kept from a refused upload"
        leftovers = list((server.settings.data_dir / "tmp").iterdir())
        assert leftovers == []


async def test_bad_callbacks_and_missing_secret(make_settings: SettingsFactory) -> None:
    settings = make_settings(webhook_allow_hosts=["127.0.0.1"])
    async with live_server(settings) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        no_secret = await upload_bytes(client, PDF, callback_url="http://127.0.0.1:9/hook")
        assert no_secret.status_code == 422
        assert no_secret.json()["error"] == "webhook_secret_missing"
        assert (await client.get("/api/webhooks")).json()["data"] == {
            "has_secret": False,
            "secret_created_at": None,
            "default_url": None,
        }
        first, second = await _secret(client), await _secret(client)
        assert first != second and second.startswith("whsec_")
        shown = (await client.get("/api/webhooks")).json()["data"]
        assert shown["has_secret"] is True and second not in json.dumps(shown)

        for url, status in (
            ("ftp://127.0.0.1/hook", 400),
            ("http://user:pw@127.0.0.1/hook", 400),
            ("http://", 422),
            ("http://no-such-host.invalid/hook", 422),
            ("http://127.0.0.1/" + "a" * 3000, 422),
        ):
            response = await upload_bytes(client, PDF, callback_url=url)
            assert response.status_code == status, (url, response.text)
        not_json = await client.put("/api/webhooks", content=b"nope")
        assert not_json.status_code == 422
        cleared = await client.put("/api/webhooks", json={"default_url": None})
        assert cleared.status_code == 200 and cleared.json()["data"]["default_url"] is None
        anonymous = await live.client().get("/api/webhooks")
        assert anonymous.status_code == 401


async def test_a_cancelled_task_is_announced(make_settings: SettingsFactory) -> None:
    receiver = Receiver(failures=0)
    with serve_routes({"/hook": receiver}) as origin:
        settings = make_settings(**FAST_RETRIES)
        async with live_server(settings) as live, live.client() as client:
            client.headers["Authorization"] = f"Bearer {await register(client)}"
            await _secret(client)
            many_pages = text_pdf([[f"Page {n}"] for n in range(40)])
            task = (
                await upload_bytes(client, many_pages, engine="slow", callback_url=f"{origin}/hook")
            ).json()["data"]
            assert (await client.post(f"/api/tasks/{task['id']}/cancel")).status_code == 200
            await wait_until(lambda: receiver.successes == 1, timeout_s=20)
            payload = json.loads(receiver.calls[0][1])
            assert payload["event"] == "task.cancelled"
            assert payload["task"]["status"] == "cancelled"


async def test_two_servers_never_send_one_attempt_twice(
    make_settings: SettingsFactory, database_url: str
) -> None:
    """Both servers' delivery loops poll the same due rows; each is sent once."""
    receiver = Receiver(failures=0)
    with serve_routes({"/hook": receiver}) as origin:
        fast = FAST_RETRIES | {"webhook_poll_s": 0.02}
        settings = make_settings(database_url=database_url, **fast)
        async with live_server(settings) as one, live_server(settings) as two:
            async with one.client() as client:
                client.headers["Authorization"] = f"Bearer {await register(client, 'hooked')}"
                await _secret(client)
            async with transaction(two.services.sessions) as session:
                user = await UserRepository(session).find_login("hooked")
                assert user is not None
                deliveries = WebhookRepository(session)
                for n in range(30):
                    task = Task(id=f"task-{n}", owner_id=user.id)
                    payload = {"event": "task.completed", "task": {"id": task.id}}
                    await deliveries.enqueue(task, f"{origin}/hook", payload)
            await wait_until(lambda: len(receiver.calls) >= 30, timeout_s=20)
            await asyncio.sleep(0.5)
    sent = [headers["X-Docmill-Delivery"] for headers, *_ in receiver.calls]
    assert len(sent) == len(set(sent)) == 30
