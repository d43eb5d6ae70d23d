"""Live events: the WebSocket (and SSE) stream of a user's own tasks, in one process and
across processes over Redis, with slow clients dropped instead of slowing anyone."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from docmill.events import LocalEventBus, SubscriberDropped
from docmill.events_redis import RedisEventBus
from tests.conftest import (
    REDIS_URL,
    SettingsFactory,
    register,
    service_missing,
    upload_bytes,
    wait_for_status,
)
from tests.support.documents import text_pdf
from tests.support.engines import DELAY_ENV
from tests.support.server import LiveServer, free_port, live_server

PAGES = 4


def ws_url(live: LiveServer, query: str = "") -> str:
    return live.base_url.replace("http://", "ws://", 1) + "/api/ws" + query


@asynccontextmanager
async def event_socket(
    live: LiveServer, token: str, **kwargs: Any
) -> AsyncIterator[ClientConnection]:
    headers = {"Authorization": f"Bearer {token}"}
    async with connect(ws_url(live), additional_headers=headers, **kwargs) as socket:
        yield socket


async def next_event(socket: ClientConnection, timeout: float = 30) -> dict[str, Any]:
    """The next task event, skipping the server's pings."""
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        if message["type"] != "ping":
            return dict(message)


async def events_until_finished(socket: ClientConnection, task_id: str) -> list[dict[str, Any]]:
    """Every event received until `task_id` is reported completed or failed."""
    received = []
    while True:
        event = await next_event(socket)
        received.append(event)
        task = event.get("task", {})
        if task.get("id") == task_id and task["status"] in ("completed", "failed"):
            return received


async def gather_events(socket: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [await next_event(socket) for _ in range(count)]


def event_task_id(event: dict[str, Any]) -> str:
    return str(event["task"]["id"] if "task" in event else event["task_id"])


async def user_id(client: httpx.AsyncClient) -> int:
    return int((await client.get("/api/auth/me")).json()["id"])


def sample_pdf(label: str, pages: int = PAGES) -> bytes:
    return text_pdf([[f"{label} page {n}"] for n in range(1, pages + 1)])


async def test_socket_shows_every_step_of_own_upload_only(
    make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DELAY_ENV, "0.05")
    async with (
        live_server(make_settings()) as live,
        live.client() as alice,
        live.client() as bob,
    ):
        alice.headers["Authorization"] = f"Bearer {await register(alice)}"
        bob_token = await register(bob)
        bob.headers["Authorization"] = f"Bearer {bob_token}"
        async with (
            event_socket(live, alice.headers["Authorization"].split()[1]) as alice_socket,
            event_socket(live, bob_token) as bob_socket,
        ):
            bobs = await upload_bytes(bob, sample_pdf("Bob"), "bob.pdf", engine="slow")
            alices = await upload_bytes(alice, sample_pdf("Alice"), "alice.pdf", engine="slow")
            task_id = alices.json()["data"]["id"]

            received = await events_until_finished(alice_socket, task_id)
            bob_received = await events_until_finished(bob_socket, bobs.json()["data"]["id"])

    assert {event_task_id(event) for event in received} == {task_id}
    assert {event_task_id(event) for event in bob_received} == {bobs.json()["data"]["id"]}
    steps = [
        event["task"]["status"] if event["type"] == "task.updated" else event["pages_done"]
        for event in received
    ]
    assert [step for step in steps if isinstance(step, str)] == [
        "pending",
        "processing",
        "completed",
    ]
    processing, completed = steps.index("processing"), steps.index("completed")
    pages = [step for step in steps[processing + 1 : completed] if step]
    assert pages == list(range(1, PAGES + 1)), steps
    assert all(not isinstance(step, int) for step in steps[:processing] + steps[completed:])
    final = received[-1]["task"]
    assert final["progress"] == 100 and final["pages_done"] == PAGES
    progress = [event for event in received if event["type"] == "task.progress"]
    assert all(event["total_pages"] == PAGES for event in progress)


async def test_socket_reports_deletion(make_settings: SettingsFactory) -> None:
    async with live_server(make_settings(), run_jobs=False) as live, live.client() as client:
        token = await register(client)
        client.headers["Authorization"] = f"Bearer {token}"
        task_id = (await upload_bytes(client, sample_pdf("Gone", 1))).json()["data"]["id"]
        async with event_socket(live, token) as socket:
            assert (await client.delete(f"/api/tasks/{task_id}")).status_code == 200
            assert await next_event(socket) == {"type": "task.deleted", "task_id": task_id}


async def test_socket_accepts_query_token_and_api_keys(make_settings: SettingsFactory) -> None:
    async with live_server(make_settings(), run_jobs=False) as live, live.client() as client:
        token = await register(client)
        client.headers["Authorization"] = f"Bearer {token}"
        created = await client.post("/api/auth/api-keys", json={"name": "ws"})
        api_key = created.json()["data"]["key"]
        sockets = [
            connect(ws_url(live, f"?token={token}")),
            connect(ws_url(live, f"?api_key={api_key}")),
            connect(ws_url(live), additional_headers={"X-API-Key": api_key}),
        ]
        for opening in sockets:
            async with opening as socket:
                uploaded = await upload_bytes(client, sample_pdf(uuid.uuid4().hex, 1))
                event = await next_event(socket)
                assert event["task"]["id"] == uploaded.json()["data"]["id"]


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("", {}),
        ("?token=not-a-token", {}),
        ("", {"Authorization": "Bearer not-a-token"}),
        ("?api_key=dm_wrong", {}),
    ],
    ids=["no-credentials", "bad-query-token", "bad-bearer", "bad-api-key"],
)
async def test_socket_refuses_missing_or_bad_credentials(
    make_settings: SettingsFactory, query: str, headers: dict[str, str]
) -> None:
    async with live_server(make_settings(), run_jobs=False) as live:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url(live, query), additional_headers=headers):
                pass
    response = refused.value.response
    assert response.status_code == 401
    body = json.loads(response.body or b"{}")
    assert body["success"] is False and body["error"]


async def test_socket_pings_and_answers_pings(make_settings: SettingsFactory) -> None:
    settings = make_settings(ws_ping_interval_s=0.2)
    async with live_server(settings, run_jobs=False) as live, live.client() as client:
        token = await register(client)
        async with event_socket(live, token) as socket:
            assert json.loads(await asyncio.wait_for(socket.recv(), 5)) == {"type": "ping"}
            await socket.send(json.dumps({"type": "ping"}))
            replies = [json.loads(await asyncio.wait_for(socket.recv(), 5)) for _ in range(3)]
            assert {"type": "pong"} in replies


async def test_client_that_never_reads_is_dropped_without_slowing_anyone(
    make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DELAY_ENV, "0.05")
    # The stalled client reads again only at the end: its close frame may wait that long.
    settings = make_settings(ws_queue_size=64, ws_send_timeout_s=1.0, ws_close_timeout_s=120)
    flood = 400
    # 400 × 32 kB of incompressible text fills the socket buffers of a client that never reads.
    padding = base64.b64encode(os.urandom(24_000)).decode()
    async with live_server(settings) as live, live.client() as client:
        token = await register(client)
        client.headers["Authorization"] = f"Bearer {token}"
        owner = await user_id(client)
        # max_queue=1: the client library stops reading from the socket at once.
        async with (
            event_socket(live, token, max_queue=1, compression=None) as stalled,
            event_socket(live, token) as reader,
        ):
            reading = asyncio.create_task(gather_events(reader, flood))
            slowest = 0.0
            for number in range(flood):
                started = time.monotonic()
                await live.services.events.publish(
                    owner, {"type": "test.flood", "n": number, "padding": padding}
                )
                slowest = max(slowest, time.monotonic() - started)
                await asyncio.sleep(0.002)  # a steady stream the reader keeps up with
            assert slowest < 0.1, "publishing waited for a client"
            uploaded = await upload_bytes(client, sample_pdf("Busy"), engine="slow")
            task_id = uploaded.json()["data"]["id"]

            flooded = await reading
            assert [event["n"] for event in flooded] == list(range(flood))
            finished = await events_until_finished(reader, task_id)
            assert finished[-1]["task"]["status"] == "completed"
            assert (await wait_for_status(client, task_id, ("completed",)))["pages_done"] == PAGES

            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(stalled.recv(), 30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013


async def test_server_sent_events_stream(make_settings: SettingsFactory) -> None:
    async with live_server(make_settings(), run_jobs=False) as live, live.client() as client:
        token = await register(client)
        client.headers["Authorization"] = f"Bearer {token}"
        async with client.stream("GET", "/api/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = (line async for line in stream.aiter_lines() if line)
            assert await anext(lines) == ": connected"
            uploaded = await upload_bytes(client, sample_pdf("SSE", 1))
            event_line = await asyncio.wait_for(anext(lines), 10)
            data_line = await asyncio.wait_for(anext(lines), 10)
        assert event_line == "event: task.updated"
        event = json.loads(data_line.removeprefix("data: "))
        assert event["task"]["id"] == uploaded.json()["data"]["id"]
        refused = await live.client().get("/api/events")
        assert refused.status_code == 401


async def test_local_bus_drops_a_subscriber_that_falls_behind() -> None:
    bus = LocalEventBus()
    async with bus.subscribe(7, maxsize=3) as slow, bus.subscribe(7, maxsize=100) as fast:
        for number in range(10):
            await bus.publish(7, {"n": number})
        await bus.publish(8, {"n": "someone else"})
        with pytest.raises(SubscriberDropped):
            await slow.next()
        assert [(await fast.next())["n"] for _ in range(10)] == list(range(10))
        assert fast.queue.empty()


# -- across processes, over Redis ----------------------------------------------------------


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A channel prefix of this test alone, on a reachable Redis."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, aioredis.ConnectionError) as exc:
        service_missing(f"Redis is not reachable at {REDIS_URL}: {exc}")
    finally:
        await client.aclose()
    yield f"docmill-test-{uuid.uuid4().hex[:12]}"


@pytest.mark.redis
async def test_event_from_another_instance_reaches_socket(
    make_settings: SettingsFactory, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DELAY_ENV, "0.02")
    settings = make_settings(redis_url=REDIS_URL, redis_prefix=redis_prefix)
    async with (
        live_server(settings, run_jobs=False) as watcher,
        live_server(settings) as worker,
        worker.client() as client,
    ):
        token = await register(client)
        client.headers["Authorization"] = f"Bearer {token}"
        async with watcher.client() as probe:
            ready = (await probe.get("/ready")).json()["data"]
        assert ready["checks"]["redis_events"] == "ok"
        async with event_socket(watcher, token) as socket:
            uploaded = await upload_bytes(client, sample_pdf("Remote"), engine="slow")
            task_id = uploaded.json()["data"]["id"]
            received = await events_until_finished(socket, task_id)
    statuses = [e["task"]["status"] for e in received if e["type"] == "task.updated"]
    assert statuses == ["pending", "processing", "completed"]
    pages = [e["pages_done"] for e in received if e["type"] == "task.progress" and e["pages_done"]]
    assert pages == list(range(1, PAGES + 1))


@pytest.mark.redis
async def test_redis_bus_reconnects_after_redis_drops_it(redis_prefix: str) -> None:
    sender = RedisEventBus(REDIS_URL, prefix=redis_prefix)
    receiver = RedisEventBus(REDIS_URL, prefix=redis_prefix)
    await sender.start()
    await receiver.start()
    admin = aioredis.Redis.from_url(REDIS_URL)
    try:
        async with receiver.subscribe(1) as subscription:
            await sender.publish(1, {"n": "before"})
            assert (await asyncio.wait_for(subscription.next(), 5))["n"] == "before"

            clients = await admin.client_list()
            for entry in clients:
                if entry.get("name") in (receiver.client_name, sender.client_name):
                    await admin.client_kill_filter(_id=entry["id"])

            # Pub/sub keeps nothing: probe until the receiver is subscribed again.
            deadline = time.monotonic() + 20
            while True:
                await sender.publish(1, {"n": "after"})
                try:
                    event = await asyncio.wait_for(subscription.next(), 0.3)
                    break
                except TimeoutError:
                    assert time.monotonic() < deadline, "events did not resume"
            assert event["n"] == "after"
    finally:
        await admin.aclose()
        await sender.close()
        await receiver.close()


async def test_redis_bus_without_redis_still_serves_local_clients() -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    bus = RedisEventBus(unreachable, connect_timeout=0.5)
    started = time.monotonic()
    await bus.start()
    try:
        assert time.monotonic() - started < 3
        assert not bus.connected
        async with bus.subscribe(3) as subscription:
            await bus.publish(3, {"n": 1})
            assert await asyncio.wait_for(subscription.next(), 1) == {"n": 1}
    finally:
        await bus.close()
