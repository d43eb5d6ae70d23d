"""Memory does not grow with file size: a 100 MB upload and download through a real
server process, measured as the growth of its peak RSS (VmHWM).

Bound: 24 MB of growth for 100 MB moved each way (the upload path holds at most ~1 MB
of buffer; the rest is allocator noise, thread stacks and first-use imports)."""

from __future__ import annotations

import asyncio

import httpx

from bench.documents import multipart_chunks, pdf_chunks
from tests.conftest import SettingsFactory, register, wait_for_status
from tests.support.documents import text_pdf
from tests.support.server import peak_rss_bytes, server_process

MB = 1024 * 1024
SIZE = 100 * MB
BOUND = 24 * MB
BOUNDARY = "docmill-memory-test"


async def _async(chunks):  # type: ignore[no-untyped-def]
    for chunk in chunks:
        yield chunk


async def test_100_mb_upload_and_download_keep_memory_flat(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(default_engine="slow", max_upload_mb=150)
    with server_process(settings) as (process, base_url):
        async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
            client.headers["Authorization"] = f"Bearer {await register(client)}"
            # Warm up every code path once with a small file.
            warm = await client.post("/api/upload", files={"file": ("w.pdf", text_pdf([["w"]]))})
            await wait_for_status(client, warm.json()["data"]["id"], ("completed",))
            await client.get(f"/api/download/{warm.json()['data']['id']}")
            await asyncio.sleep(0.2)
            before = peak_rss_bytes(process.pid)

            body = multipart_chunks(
                pdf_chunks([["Big file"]], pad_to=SIZE), BOUNDARY, filename="big.pdf"
            )
            response = await client.post(
                "/api/upload",
                content=_async(body),
                headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            )
            assert response.status_code == 202, response.text
            task = response.json()["data"]
            assert task["file_size"] > SIZE - MB
            after_upload = peak_rss_bytes(process.pid)
            assert after_upload - before < BOUND, (
                f"upload grew peak RSS by {(after_upload - before) / MB:.1f} MB"
            )

            original = 0
            async with client.stream("GET", f"/api/files/{task['id']}/original") as download:
                assert download.status_code == 200
                async for chunk in download.aiter_bytes():
                    original += len(chunk)
            assert original == task["file_size"]
            after_download = peak_rss_bytes(process.pid)
            assert after_download - before < BOUND, (
                f"download grew peak RSS by {(after_download - before) / MB:.1f} MB"
            )
