"""docmill.client against a real server: upload, wait (WebSocket, or polling when the
socket cannot be used), results, download; and `docmill convert --server`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from docmill.client import ApiError, AsyncDocmill, Docmill
from tests.conftest import register
from tests.support.documents import text_pdf
from tests.support.pdfgen import png_bytes
from tests.support.server import LiveServer

PAGES = [[f"Client page {n} says hello."] for n in range(1, 4)]


async def _api_key(server: LiveServer) -> str:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        response = await client.post("/api/auth/api-keys", json={"name": "client"})
        return str(response.json()["data"]["key"])


async def test_async_client_converts_a_file_end_to_end(server: LiveServer, tmp_path: Path) -> None:
    source = tmp_path / "client report.pdf"
    source.write_bytes(text_pdf(PAGES, title="Client Report"))
    progress: list[tuple[int, int]] = []
    async with AsyncDocmill(server.base_url, api_key=await _api_key(server)) as docmill:
        task = await docmill.upload(source, engine="slow")
        assert task.status == "pending" and task.filename == "client report.pdf"
        done = await docmill.wait(
            task, timeout_s=60, on_progress=lambda d, t: progress.append((d, t))
        )
        assert done.status == "completed" and done.finished
        assert progress and progress[-1][1] == 3

        markdown = await docmill.markdown(done)
        assert "Client Report" in markdown and "Client page 3 says hello." in markdown
        blocks = await docmill.blocks(done)
        assert {b.page_num for b in blocks} == {1, 2, 3}
        assert "Client page 2 says hello." in {b.content for b in blocks}
        chunks = await docmill.chunks(done, max_tokens=64)
        assert all(c.tokens <= 64 for c in chunks)
        assert "Client page 1 says hello." in "".join(c.text for c in chunks)
        target = await docmill.download(done, tmp_path / "out.zip")
        with zipfile.ZipFile(target) as archive:
            assert "Client page 2" in archive.read("document.md").decode()
            assert archive.read("chunks.jsonl")
        assert [t.id for t in await docmill.tasks(query="REPORT")] == [done.id]

        with pytest.raises(ApiError) as missing:
            await docmill.markdown("no-such-task")
        assert missing.value.status_code == 404 and missing.value.code == "task_not_found"
    async with AsyncDocmill(server.base_url, api_key="dm_wrong") as stranger:
        with pytest.raises(ApiError) as refused:
            await stranger.tasks()
        assert refused.value.status_code == 401


async def test_polling_fallback_and_the_blocking_client(server: LiveServer, tmp_path: Path) -> None:
    """HTTP goes to the app in process while the WebSocket would go to a closed port, so
    `wait` polls; then the blocking client converts from plain (non-async) code."""
    key = await _api_key(server)
    transport = httpx.ASGITransport(app=server.app)
    async with AsyncDocmill(
        "http://127.0.0.1:9", api_key=key, transport=transport, poll_interval_s=0.1
    ) as docmill:
        task = await docmill.upload_bytes(text_pdf(PAGES), "polled.pdf", engine="slow")
        done = await docmill.wait(task, timeout_s=60)
        assert done.status == "completed"
        assert "Client page 2" in await docmill.markdown(done)

    source = tmp_path / "sync.pdf"
    source.write_bytes(text_pdf([["Written by blocking code."]]))

    def convert() -> str:
        with Docmill(server.base_url, api_key=key) as blocking:
            return blocking.markdown(blocking.wait(blocking.upload(source), timeout_s=60))

    assert "Written by blocking code." in await asyncio.to_thread(convert)


async def test_convert_command_through_a_server(server: LiveServer, tmp_path: Path) -> None:
    key = await _api_key(server)
    good = tmp_path / "memo.pdf"
    good.write_bytes(text_pdf(PAGES, title="Memo"))
    picture = tmp_path / "picture.png"
    picture.write_bytes(png_bytes())  # the pdf_text engine cannot read images
    out = tmp_path / "out"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "docmill.cli",
        "convert",
        str(good),
        str(picture),
        "-o",
        str(out),
        "--server",
        server.base_url,
        env=os.environ | {"DOCMILL_API_KEY": key},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 1, stderr.decode()
    assert "memo.pdf: 3 pages" in stdout.decode()
    assert "picture.png" in stderr.decode()
    assert "Client page 3 says hello." in (out / "memo" / "document.md").read_text()
    blocks = json.loads((out / "memo" / "blocks.json").read_text())
    assert any(block["type"] == "title" for block in blocks)
    assert (out / "memo" / "chunks.jsonl").read_text().strip()
    assert not (out / "picture").exists() or not any((out / "picture").iterdir())
