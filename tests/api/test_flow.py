"""The spine end to end, on SQLite and on PostgreSQL: register, upload, complete, read."""

from __future__ import annotations

import io
import json
import zipfile

from tests.conftest import SettingsFactory, register, upload_bytes, wait_for_status
from tests.support.documents import text_pdf
from tests.support.server import live_server

TITLE = "Quarterly Report"
LINES = ["The quick brown fox jumps over the lazy dog.", "Docmill keeps every word."]


async def test_upload_convert_and_read_everything(
    make_settings: SettingsFactory, database_url: str
) -> None:
    settings = make_settings(database_url=database_url, default_engine="pdf_text")
    pdf = text_pdf([LINES, ["Second page says hello."]], title=TITLE)
    async with live_server(settings) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"

        accepted = await upload_bytes(client, pdf, "report.pdf")
        assert accepted.status_code == 202, accepted.text
        task = accepted.json()["data"]
        assert task["status"] == "pending"
        assert task["filename"] == "report.pdf"
        assert task["total_pages"] == 2

        done = await wait_for_status(client, task["id"], ("completed", "failed"))
        assert done["status"] == "completed", done["error_message"]
        assert done["progress"] == 100 and done["pages_done"] == 2
        assert [h["status"] for h in done["status_history"]] == [
            "pending",
            "processing",
            "completed",
        ]

        markdown = (await client.get(f"/api/tasks/{task['id']}/markdown")).json()["data"]
        assert TITLE in markdown["markdown_content"]
        assert LINES[0] in markdown["markdown_content"]

        blocks = (await client.get(f"/api/tasks/{task['id']}/blocks")).json()["data"]
        assert blocks["total_pages"] == 2
        fox = next(b for b in blocks["preproc_blocks"] if "quick brown fox" in b["content"])
        width, height = fox["page_size"]
        x0, y0, x1, y1 = fox["bbox"]
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert y0 < height / 3, "the first lines sit in the top third of the page"
        assert fox["page_num"] == 1

        download = await client.get(f"/api/download/{task['id']}")
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(download.content))
        assert LINES[1] in archive.read("document.md").decode()
        zipped_blocks = json.loads(archive.read("blocks.json"))
        assert any("quick brown fox" in block["text"] for block in zipped_blocks)

        ranged = await client.get(f"/api/download/{task['id']}", headers={"Range": "bytes=10-99"})
        assert ranged.status_code == 206
        assert ranged.content == download.content[10:100]
        assert ranged.headers["content-range"] == f"bytes 10-99/{len(download.content)}"

        etag = download.headers["etag"]
        again = await client.get(f"/api/download/{task['id']}", headers={"If-None-Match": etag})
        assert again.status_code == 304

        head = await client.head(f"/api/download/{task['id']}")
        assert head.status_code == 200
        assert int(head.headers["content-length"]) == len(download.content)

        result = (await client.get(f"/api/tasks/{task['id']}/result")).json()["data"]
        assert result["download_url"] == f"/api/download/{task['id']}"
        assert result["metadata"]["total_pages"] == 2

        listed = await client.get("/api/tasks")
        assert [t["id"] for t in listed.json()["data"]] == [task["id"]]


async def test_same_file_twice_is_served_from_cache(server) -> None:  # type: ignore[no-untyped-def]
    pdf = text_pdf([["Cache me if you can."]])
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        first = (await upload_bytes(client, pdf, "a.pdf", engine="slow")).json()["data"]
        await wait_for_status(client, first["id"], ("completed",))

        second = await upload_bytes(client, pdf, "b.pdf", engine="slow")
        assert second.status_code == 200
        cached = second.json()["data"]
        assert cached["status"] == "completed" and cached["from_cache"] is True
        assert cached["id"] != first["id"]
        markdown = (await client.get(f"/api/tasks/{cached['id']}/markdown")).json()["data"]
        assert "Cache me if you can." in markdown["markdown_content"]

        # Deleting the first task does not take the second one's result with it.
        assert (await client.delete(f"/api/tasks/{first['id']}")).status_code == 200
        download = await client.get(f"/api/download/{cached['id']}")
        assert download.status_code == 200

        other_options = await upload_bytes(client, pdf, "c.pdf", engine="slow", force_ocr="true")
        assert other_options.json()["data"]["from_cache"] is False


async def test_cached_result_survives_a_restart(make_settings: SettingsFactory) -> None:
    settings = make_settings(default_engine="slow")
    pdf = text_pdf([["Remembered across restarts."]])
    async with live_server(settings) as live, live.client() as client:
        token = await register(client)
        client.headers["Authorization"] = f"Bearer {token}"
        first = (await upload_bytes(client, pdf)).json()["data"]
        await wait_for_status(client, first["id"], ("completed",))
    async with live_server(settings) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {token}"
        second = (await upload_bytes(client, pdf)).json()["data"]
        assert second["from_cache"] is True
        stats = live.services.language.cache.stats()
        assert stats["l1"].misses >= 1 and stats["l3"].hits >= 1
