"""The durable job runner: cancel, retry, delete, and surviving stops and crashes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.conftest import SettingsFactory, register, upload_bytes, wait_for_status
from tests.support.documents import text_pdf
from tests.support.engines import DELAY_ENV, RUNS_FILE_ENV
from tests.support.server import live_server, server_process

PAGES = [[f"Page {n} of a slow document."] for n in range(1, 9)]


@pytest.fixture
def slow_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Pages take 0.4 s each; every engine run is recorded in the returned file."""
    runs = tmp_path / "engine-runs.txt"
    monkeypatch.setenv(DELAY_ENV, "0.4")
    monkeypatch.setenv(RUNS_FILE_ENV, str(runs))
    return runs


def engine_runs(runs: Path) -> int:
    return len(runs.read_text().splitlines()) if runs.exists() else 0


async def wait_for_pages(client: httpx.AsyncClient, task_id: str, pages: int) -> dict:  # type: ignore[type-arg]
    for _ in range(300):
        task = (await client.get(f"/api/tasks/{task_id}/status")).json()["data"]
        if task["status"] == "processing" and task["pages_done"] >= pages:
            return task  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"task never reached page {pages}")


async def test_cancel_running_then_retry_then_delete(
    make_settings: SettingsFactory, slow_engine: Path
) -> None:
    settings = make_settings(default_engine="slow")
    async with live_server(settings) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        task_id = (await upload_bytes(client, text_pdf(PAGES))).json()["data"]["id"]
        running = await wait_for_pages(client, task_id, 1)
        assert running["total_pages"] == 8

        cancelled = await client.post(f"/api/tasks/{task_id}/cancel")
        assert cancelled.status_code == 200
        assert cancelled.json()["data"]["status"] == "cancelled"
        await asyncio.sleep(1.2)  # the worker stops at its next page and stays stopped
        after = (await client.get(f"/api/tasks/{task_id}/status")).json()["data"]
        assert after["status"] == "cancelled"
        assert after["pages_done"] < 8
        again = await client.post(f"/api/tasks/{task_id}/cancel")
        assert again.status_code == 409

        retried = await client.post(f"/api/tasks/{task_id}/retry")
        assert retried.status_code == 202
        assert retried.json()["data"]["status"] == "pending"
        done = await wait_for_status(client, task_id, ("completed", "failed"))
        assert done["status"] == "completed"
        assert [h["status"] for h in done["status_history"]] == [
            "pending",
            "processing",
            "cancelled",
            "pending",
            "processing",
            "completed",
        ]
        assert (await client.post(f"/api/tasks/{task_id}/retry")).status_code == 409

        task_dir = live.services.blobs.task_dir(task_id)
        assert task_dir.exists()
        deleted = await client.delete(f"/api/tasks/{task_id}")
        assert deleted.status_code == 200
        assert not task_dir.exists()
        assert (await client.get(f"/api/tasks/{task_id}/status")).status_code == 404
        assert (await client.get(f"/api/download/{task_id}")).status_code == 404
        # Its cached result went with it: the same file is converted afresh.
        runs_before = engine_runs(slow_engine)
        fresh = (await upload_bytes(client, text_pdf(PAGES))).json()["data"]
        assert fresh["from_cache"] is False
        await wait_for_status(client, fresh["id"], ("completed",))
        assert engine_runs(slow_engine) == runs_before + 1


async def test_deleting_a_running_task_stops_it(
    make_settings: SettingsFactory, slow_engine: Path
) -> None:
    settings = make_settings(default_engine="slow")
    async with live_server(settings) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        task_id = (await upload_bytes(client, text_pdf(PAGES))).json()["data"]["id"]
        await wait_for_pages(client, task_id, 1)
        assert (await client.delete(f"/api/tasks/{task_id}")).status_code == 200
        await asyncio.sleep(1.0)
        assert not live.services.blobs.task_dir(task_id).exists()
        # The runner is free again: a new task runs to completion.
        other = (await upload_bytes(client, text_pdf([["after delete"]]))).json()["data"]
        assert (await wait_for_status(client, other["id"], ("completed",)))["pages_done"] == 1


async def test_stopped_mid_task_completes_after_restart(
    make_settings: SettingsFactory, slow_engine: Path
) -> None:
    settings = make_settings(default_engine="slow")
    async with live_server(settings) as live, live.client() as client:
        token = await register(client)
        client.headers["Authorization"] = f"Bearer {token}"
        task_id = (await upload_bytes(client, text_pdf(PAGES))).json()["data"]["id"]
        await wait_for_pages(client, task_id, 2)
    # The server stopped without finishing the task. Start it again on the same data.
    async with live_server(settings) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {token}"
        done = await wait_for_status(client, task_id, ("completed", "failed"))
        assert done["status"] == "completed"
        statuses = [h["status"] for h in done["status_history"]]
        assert statuses == ["pending", "processing", "pending", "processing", "completed"]
    assert engine_runs(slow_engine) == 2


async def test_task_of_a_killed_server_is_requeued(
    make_settings: SettingsFactory, slow_engine: Path, tmp_path: Path
) -> None:
    """kill -9 the server process mid-task; a new server finishes the task."""
    settings = make_settings(default_engine="slow", job_lease_s=1.0)
    with server_process(settings) as (_, base_url):
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            token = await register(client)
            client.headers["Authorization"] = f"Bearer {token}"
            task_id = (await upload_bytes(client, text_pdf(PAGES))).json()["data"]["id"]
            await wait_for_pages(client, task_id, 1)
    # The process group got SIGKILL: the task is left `processing` with a stale lease.

    async with live_server(settings) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {token}"
        done = await wait_for_status(client, task_id, ("completed", "failed"))
        assert done["status"] == "completed"
        assert "stopped" in done["status_history"][2]["message"]
