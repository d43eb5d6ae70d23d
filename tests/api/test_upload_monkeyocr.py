"""Uploads with engine=monkeyocr, through the public API, against a stand-in MonkeyOCR."""

from __future__ import annotations

import asyncio
import io
import json
import re
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SettingsFactory, register, upload_bytes, wait_for_status
from tests.support.documents import text_pdf
from tests.support.monkeyocr import StandIn, produced_entries
from tests.support.server import LiveServer, free_port, live_server

PDF = text_pdf([["Page one for MonkeyOCR."], ["Page two for MonkeyOCR."]])


def monkey_settings(make_settings: SettingsFactory, url: str, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "monkeyocr_url": url,
        "monkeyocr_backoff_s": 0.01,
        "monkeyocr_backoff_max_s": 0.05,
        "monkeyocr_timeout_s": 10.0,
    }
    values.update(overrides)
    return make_settings(**values)


@asynccontextmanager
async def signed_in(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a newly registered user."""
    async with live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        yield client


async def test_upload_with_monkeyocr_completes_with_its_blocks_images_and_zip(
    make_settings: SettingsFactory, monkeyocr: StandIn
) -> None:
    settings = monkey_settings(make_settings, monkeyocr.url)
    async with (
        live_server(settings) as live,
        signed_in(live) as client,
        live.client() as anonymous,
    ):
        accepted = await upload_bytes(client, PDF, "report.pdf", engine="monkeyocr")
        assert accepted.status_code == 202, accepted.text
        task_id = accepted.json()["data"]["id"]
        done = await wait_for_status(client, task_id, ("completed", "failed"))
        assert done["status"] == "completed", done["error_message"]

        produced = monkeyocr.server.stats.produced[0]
        entries = produced_entries(produced.zip_path)

        blocks = (await client.get(f"/api/tasks/{task_id}/blocks")).json()["data"]
        assert blocks["total_pages"] == 2
        titles = [b["content"] for b in blocks["preproc_blocks"] if b["type"] == "title"]
        assert [t.lstrip("# ") for t in titles] == produced.titles
        table = next(b for b in blocks["preproc_blocks"] if b["type"] == "table")
        assert table["html_content"].startswith("<table><tr><th>Name</th>")
        assert table["page_num"] == 1

        markdown = (await client.get(f"/api/tasks/{task_id}/markdown")).json()["data"]
        text = markdown["markdown_content"]
        assert "Page 1 says energy is $E = mc^2$ here." in text
        assert "| Name | Value |" in text
        links = re.findall(r"!\[[^\]]*\]\((/media/[^)]+)\)", text)
        assert len(links) == 2  # one figure per page
        for link in links:
            image = await anonymous.get(link)
            assert image.status_code == 200
            assert image.headers["content-type"] == "image/jpeg"
            name = link.split("?", 1)[0].rsplit("/", 1)[1]
            assert image.content == entries[f"images/{name}"]

        download = await client.get(f"/api/download/{task_id}")
        assert download.status_code == 200
        archive = zipfile.ZipFile(io.BytesIO(download.content))
        names = set(archive.namelist())
        for image_name in produced.images:
            assert archive.read(f"images/{image_name}") == entries[f"images/{image_name}"]
        assert not any(name.startswith(".monkeyocr") for name in names)
        zipped = json.loads(archive.read("blocks.json"))
        assert [b["text"] for b in zipped if b["type"] == "title"] == produced.titles
        assert "Page 2 says energy is" in archive.read("document.md").decode()


async def test_monkeyocr_can_be_the_default_engine(
    make_settings: SettingsFactory, monkeyocr: StandIn
) -> None:
    settings = monkey_settings(make_settings, monkeyocr.url, default_engine="monkeyocr")
    async with live_server(settings) as live, signed_in(live) as client:
        task = (await upload_bytes(client, PDF, "report.pdf")).json()["data"]
        done = await wait_for_status(client, task["id"], ("completed", "failed"))
        assert done["status"] == "completed", done["error_message"]
        assert monkeyocr.server.stats.parse_requests == 1


async def test_monkeyocr_upload_refused_when_not_enabled(make_settings: SettingsFactory) -> None:
    async with live_server(make_settings()) as live, signed_in(live) as client:
        response = await upload_bytes(client, PDF, "report.pdf", engine="monkeyocr")
        assert response.status_code == 422, response.text
        assert "not enabled" in response.json()["message"]


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ({"mode": "slow", "delay_s": 5}, "did not answer within 0.5 s"),
        ({"mode": "status", "status": 500, "times": 100}, "MonkeyOCR answered HTTP 500"),
        ({"mode": "status", "status": 429, "times": 100}, "MonkeyOCR answered HTTP 429"),
        ({"mode": "malformed_zip"}, "result ZIP is damaged"),
        ({"mode": "zip_bomb"}, "a zip bomb?"),
        ({"mode": "zip_slip"}, "escapes its folder"),
        ({"mode": "link"}, "link entry"),
        ({"mode": "duplicate"}, "twice"),
        ({"mode": "foreign_host"}, "download_url on another host"),
        ({"mode": "huge_zip"}, "larger than the 1 MB allowed"),
    ],
    ids=lambda value: value.get("mode", "") if isinstance(value, dict) else "",
)
async def test_misbehaving_monkeyocr_fails_the_task_clearly(
    make_settings: SettingsFactory,
    monkeyocr: StandIn,
    tmp_path: Path,
    behaviour: dict[str, Any],
    message: str,
) -> None:
    monkeyocr.behave(**behaviour)
    # Only the slow case is about the timeout; the others must not trip it on a busy machine.
    timeout_s = 0.5 if behaviour["mode"] == "slow" else 20.0
    settings = monkey_settings(
        make_settings,
        monkeyocr.url,
        monkeyocr_timeout_s=timeout_s,
        monkeyocr_max_retries=2,
        monkeyocr_max_zip_mb=1,
    )
    async with live_server(settings) as live, signed_in(live) as client:
        task = (await upload_bytes(client, PDF, "report.pdf", engine="monkeyocr")).json()["data"]
        done = await wait_for_status(client, task["id"], ("completed", "failed"), timeout=30)
        assert done["status"] == "failed"
        assert message in done["error_message"]
    data_dir = settings.data_dir
    leftovers = await asyncio.to_thread(
        lambda: [p for p in data_dir.rglob("*") if "escaped" in p.name or ".monkeyocr" in p.parts]
    )
    assert leftovers == []


@pytest.mark.parametrize("status", [429, 500])
async def test_transient_errors_succeed_after_retries(
    make_settings: SettingsFactory, monkeyocr: StandIn, status: int
) -> None:
    monkeyocr.behave(mode="status", status=status, times=2)
    settings = monkey_settings(make_settings, monkeyocr.url, monkeyocr_max_retries=3)
    async with live_server(settings) as live, signed_in(live) as client:
        task = (await upload_bytes(client, PDF, "report.pdf", engine="monkeyocr")).json()["data"]
        done = await wait_for_status(client, task["id"], ("completed", "failed"))
        assert done["status"] == "completed", done["error_message"]
        assert monkeyocr.server.stats.parse_requests == 3


async def test_two_uploads_run_side_by_side_over_pooled_connections(
    make_settings: SettingsFactory, monkeyocr: StandIn
) -> None:
    monkeyocr.behave(delay_s=0.6)
    settings = monkey_settings(make_settings, monkeyocr.url, job_concurrency=2)
    other = text_pdf([["A different document."]])
    async with live_server(settings) as live, signed_in(live) as client:
        first = (await upload_bytes(client, PDF, "a.pdf", engine="monkeyocr")).json()["data"]
        second = (await upload_bytes(client, other, "b.pdf", engine="monkeyocr")).json()["data"]
        for task in (first, second):
            done = await wait_for_status(client, task["id"], ("completed", "failed"))
            assert done["status"] == "completed", done["error_message"]
        third = (
            await upload_bytes(client, text_pdf([["Third."]]), "c.pdf", engine="monkeyocr")
        ).json()["data"]
        await wait_for_status(client, third["id"], ("completed",))
    stats = monkeyocr.server.stats
    assert stats.max_in_flight == 2  # the second did not wait for the first
    # 3 parses + 3 downloads (plus nothing else) over at most 2 kept-alive connections.
    assert stats.parse_requests == 3 and stats.static_requests == 3
    assert stats.distinct_connections <= 2


async def test_ready_reports_monkeyocr_health(
    make_settings: SettingsFactory, monkeyocr: StandIn
) -> None:
    up = monkey_settings(make_settings, monkeyocr.url)
    async with live_server(up) as live, live.client() as client:
        ready = await client.get("/ready")
        assert ready.status_code == 200
        assert ready.json()["data"]["checks"]["monkeyocr"] == "ok"
    down_url = f"http://127.0.0.1:{free_port()}"
    down = monkey_settings(make_settings, down_url, default_engine="monkeyocr")
    async with live_server(down) as live, live.client() as client:
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["data"]["checks"]["monkeyocr"].startswith("error")
    optional = monkey_settings(make_settings, down_url)
    async with live_server(optional) as live, live.client() as client:
        ready = await client.get("/ready")
        assert ready.status_code == 200  # other engines still work
        assert ready.json()["data"]["checks"]["monkeyocr"].startswith("degraded")


async def test_cancelling_a_monkeyocr_task_stops_its_request(
    make_settings: SettingsFactory, monkeyocr: StandIn
) -> None:
    monkeyocr.behave(delay_s=30)
    settings = monkey_settings(make_settings, monkeyocr.url, monkeyocr_timeout_s=60.0)
    async with live_server(settings) as live, signed_in(live) as client:
        task = (await upload_bytes(client, PDF, engine="monkeyocr")).json()["data"]
        for _ in range(200):
            if monkeyocr.server.stats.in_flight == 1:
                break
            await asyncio.sleep(0.05)
        assert monkeyocr.server.stats.in_flight == 1
        cancelled = await client.post(f"/api/tasks/{task['id']}/cancel")
        assert cancelled.json()["data"]["status"] == "cancelled"
        for _ in range(100):  # the upstream request is dropped, not waited out
            if monkeyocr.server.stats.in_flight == 0:
                break
            await asyncio.sleep(0.05)
        assert monkeyocr.server.stats.in_flight == 0
        assert monkeyocr.server.stats.disconnects == 1
        status = (await client.get(f"/api/tasks/{task['id']}/status")).json()["data"]
        assert status["status"] == "cancelled"
        retried = await client.post(f"/api/tasks/{task['id']}/retry")
        assert retried.status_code == 202
