"""Incremental sync on SQLite and PostgreSQL: exactly what changed after a mark, the
deleted ids, a per-user ETag, a constant number of queries, and bad input refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, update

from docmill.store.db import transaction
from docmill.store.models import Task, TaskTombstone
from tests.conftest import SettingsFactory, register, upload_bytes
from tests.support.documents import text_pdf
from tests.support.server import LiveServer, live_server

SETTLE_S = 0.3


async def new_user(live: LiveServer) -> httpx.AsyncClient:
    client = live.client()
    client.headers["Authorization"] = f"Bearer {await register(client)}"
    return client


async def create_task(client: httpx.AsyncClient, label: str) -> str:
    response = await upload_bytes(client, text_pdf([[f"Document {label}"]]), f"{label}.pdf")
    assert response.status_code == 202, response.text
    return str(response.json()["data"]["id"])


async def settle() -> None:
    """Wait until the latest change is older than `sync_settle_s` (the ETag appears)."""
    await asyncio.sleep(SETTLE_S + 0.1)


async def sync(
    client: httpx.AsyncClient, last_sync: str | None = None, etag: str | None = None
) -> httpx.Response:
    params = {"last_sync": last_sync} if last_sync is not None else {}
    headers = {"If-None-Match": etag} if etag else {}
    return await client.get("/api/sync", params=params, headers=headers)


def body(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True
    return dict(response.json()["data"])


def ids(data: dict[str, Any]) -> set[str]:
    return {task["id"] for task in data["tasks"]}


@contextmanager
def statements(live: LiveServer) -> Iterator[list[str]]:
    """The SQL statements the server runs inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = live.services.db.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_incremental_sync_returns_exactly_the_changes(
    make_settings: SettingsFactory, database_url: str
) -> None:
    settings = make_settings(database_url=database_url, sync_settle_s=SETTLE_S)
    async with live_server(settings, run_jobs=False) as live:
        client, other = await new_user(live), await new_user(live)
        kept, changed, deleted = [await create_task(client, name) for name in "ABC"]
        someone_elses = await create_task(other, "X")
        await settle()

        first = await sync(client)
        data = body(first)
        assert data["sync_type"] == "full"
        assert ids(data) == {kept, changed, deleted}
        assert data["deleted_ids"] == [] and data["total_count"] == 3
        assert all(len(task["status_history"]) == 1 for task in data["tasks"])
        etags = [first.headers["ETag"]]
        assert (await sync(client, etag=etags[0])).status_code == 304
        mark = data["server_timestamp"]

        assert (await client.post(f"/api/tasks/{changed}/cancel")).status_code == 200
        unsettled = await sync(client, mark, etag=etags[0])
        assert "ETag" not in unsettled.headers, "no ETag while a write may still commit"
        await settle()
        etags.append((await sync(client)).headers["ETag"])
        assert (await client.delete(f"/api/tasks/{deleted}")).status_code == 200
        await settle()
        etags.append((await sync(client)).headers["ETag"])
        created = await create_task(client, "D")
        assert (await other.delete(f"/api/tasks/{someone_elses}")).status_code == 200
        await settle()

        latest = await sync(client, mark)
        data = body(latest)
        etags.append(latest.headers["ETag"])
        assert data["sync_type"] == "incremental"
        assert ids(data) == {changed, created}
        assert data["deleted_ids"] == [deleted]
        assert data["total_count"] == 3
        cancelled = next(task for task in data["tasks"] if task["id"] == changed)
        assert [h["status"] for h in cancelled["status_history"]] == ["pending", "cancelled"]
        assert len(set(etags)) == 4, "the ETag moves with every change and deletion"
        assert (await sync(client, mark, etag=etags[-1])).status_code == 304
        assert (await sync(client, mark, etag=etags[0])).status_code == 200

        nothing = body(await sync(client, data["server_timestamp"]))
        assert nothing["tasks"] == [] and nothing["deleted_ids"] == []
        await client.aclose()
        await other.aclose()


async def test_last_sync_in_any_iso_form(make_settings: SettingsFactory) -> None:
    async with live_server(make_settings(sync_settle_s=0), run_jobs=False) as live:
        client = await new_user(live)
        await create_task(client, "old")
        await asyncio.sleep(0.05)
        mark = datetime.now(UTC)
        await asyncio.sleep(0.05)
        recent = await create_task(client, "new")
        forms = [
            mark.isoformat(),
            mark.isoformat().replace("+00:00", "Z"),
            mark.replace(tzinfo=None).isoformat(),  # naive means UTC
            mark.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(),
            mark.astimezone(timezone(timedelta(hours=-7))).isoformat(),
            mark.strftime("%Y-%m-%d %H:%M:%S.%f"),
        ]
        for form in forms:
            data = body(await sync(client, form))
            assert data["sync_type"] == "incremental", form
            assert ids(data) == {recent}, form
        # A "+" sent unencoded in a query string arrives as a space.
        raw = mark.astimezone(timezone(timedelta(hours=2))).isoformat()
        response = await client.get(f"/api/sync?last_sync={raw}")
        assert ids(body(response)) == {recent}
        await client.aclose()


async def test_sync_runs_the_same_queries_for_few_and_many_tasks(
    make_settings: SettingsFactory, database_url: str
) -> None:
    settings = make_settings(database_url=database_url, sync_settle_s=0)
    async with live_server(settings, run_jobs=False) as live:
        client = await new_user(live)
        start = datetime.now(UTC).isoformat()
        counts = []
        for size in (1, 7):
            while len(body(await sync(client))["tasks"]) < size:
                task_id = await create_task(client, uuid.uuid4().hex)
                await client.post(f"/api/tasks/{task_id}/cancel")
            for last_sync in (None, start, datetime.now(UTC).isoformat()):
                with statements(live) as seen:
                    data = body(await sync(client, last_sync))
                histories = [sql for sql in seen if "task_status_history" in sql]
                task_queries = [sql for sql in seen if "FROM tasks" in sql]
                if data["tasks"]:
                    assert len(histories) == 1, histories
                counts.append((size, last_sync is None, len(seen), len(task_queries)))
        few = [row[2:] for row in counts if row[0] == 1]
        many = [row[2:] for row in counts if row[0] == 7]
        assert few == many, counts
        await client.aclose()


@pytest.mark.parametrize(
    "last_sync",
    ["yesterday", "2024-13-01T00:00:00Z", "2024-05-01T25:00", "1714560000", "2024-05-01T10:00+99"],
)
async def test_bad_last_sync_is_422(make_settings: SettingsFactory, last_sync: str) -> None:
    async with live_server(make_settings(), run_jobs=False) as live:
        client = await new_user(live)
        response = await sync(client, last_sync)
        await client.aclose()
    assert response.status_code == 422
    envelope = response.json()
    assert envelope["success"] is False and envelope["error"] == "invalid_timestamp"
    assert "last_sync" in envelope["message"]


async def test_sync_needs_authentication(make_settings: SettingsFactory) -> None:
    async with live_server(make_settings(), run_jobs=False) as live, live.client() as client:
        assert (await client.get("/api/sync")).status_code == 401
        assert (await client.get("/api/sync/status")).status_code == 401


async def test_mark_older_than_tombstones_or_in_future_gets_full_sync(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(sync_tombstone_days=1, sync_settle_s=0)
    async with live_server(settings, run_jobs=False) as live:
        client = await new_user(live)
        kept = await create_task(client, "kept")
        gone = await create_task(client, "gone")
        await client.delete(f"/api/tasks/{gone}")
        for mark in (datetime.now(UTC) - timedelta(days=2), datetime.now(UTC) + timedelta(hours=1)):
            data = body(await sync(client, mark.isoformat()))
            assert data["sync_type"] == "full"
            assert ids(data) == {kept} and data["deleted_ids"] == []
        recent = datetime.now(UTC) - timedelta(hours=23)
        data = body(await sync(client, recent.isoformat()))
        assert data["sync_type"] == "incremental" and data["deleted_ids"] == [gone]
        await client.aclose()


async def test_old_tombstones_are_purged(make_settings: SettingsFactory) -> None:
    settings = make_settings(sync_tombstone_days=0.5 / 86400, sync_purge_interval_s=0.2)
    async with live_server(settings, run_jobs=False) as live:
        client = await new_user(live)
        gone = await create_task(client, "gone")
        await client.delete(f"/api/tasks/{gone}")
        for _ in range(50):
            async with live.services.sessions() as session:
                left = (await session.execute(select(TaskTombstone.task_id))).scalars().all()
            if not left:
                break
            await asyncio.sleep(0.1)
        assert left == []
        await client.aclose()


async def test_sync_status_counts_own_tasks_and_gives_the_version(
    make_settings: SettingsFactory,
) -> None:
    async with live_server(make_settings(sync_settle_s=0), run_jobs=False) as live:
        client, other = await new_user(live), await new_user(live)
        cancelled = await create_task(client, "one")
        await create_task(client, "two")
        await client.post(f"/api/tasks/{cancelled}/cancel")
        await create_task(other, "theirs")
        status = await client.get("/api/sync/status")
        data = body(status)
        assert data["counts"]["total"] == 2 == data["total_count"]
        assert data["counts"]["pending"] == 1 and data["counts"]["cancelled"] == 1
        assert data["data_version"] == status.headers["ETag"]
        assert data["data_version"] == (await sync(client)).headers["ETag"]
        assert data["data_version"] != body(await other.get("/api/sync/status"))["data_version"]
        await client.aclose()
        await other.aclose()


async def test_write_stamped_before_a_sync_but_committed_after_it_is_not_missed(
    make_settings: SettingsFactory,
) -> None:
    async with live_server(make_settings(sync_settle_s=1.0), run_jobs=False) as live:
        client = await new_user(live)
        late = await create_task(client, "late")
        await asyncio.sleep(1.1)
        before_sync = datetime.now(UTC)
        first = body(await sync(client))
        mark = datetime.fromisoformat(first["server_timestamp"])
        assert mark < before_sync - timedelta(seconds=0.5), "the mark lies before the sync"
        # As if a write had taken its timestamp just before the sync and committed after.
        async with transaction(live.services.sessions) as session:
            await session.execute(
                update(Task)
                .where(Task.id == late)
                .values(updated_at=before_sync - timedelta(seconds=0.01), progress=42)
            )
        data = body(await sync(client, first["server_timestamp"]))
        assert [task["progress"] for task in data["tasks"] if task["id"] == late] == [42]
        await client.aclose()
