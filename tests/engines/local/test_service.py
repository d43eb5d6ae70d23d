"""The local engine behind the real service: upload a scan, the job runner's process pool
converts it with the default engine, and the result reads back over HTTP."""

from __future__ import annotations

import pytest

from tests.conftest import SettingsFactory, register, upload_bytes, wait_for_status
from tests.support import scans
from tests.support.server import live_server


@pytest.mark.slow
async def test_scanned_upload_converts_with_the_default_local_engine(
    make_settings: SettingsFactory, samples
) -> None:
    settings = make_settings(default_engine="local")
    scan = samples["exif_jpeg"]
    async with live_server(settings) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        accepted = await upload_bytes(client, scan.path.read_bytes(), "scan.jpg")
        assert accepted.status_code == 202, accepted.text
        task = accepted.json()["data"]

        done = await wait_for_status(client, task["id"], ("completed", "failed"), timeout=180)
        assert done["status"] == "completed", done["error_message"]
        assert done["engine"] == "local" and done["pages_done"] == 1

        markdown = (await client.get(f"/api/tasks/{task['id']}/markdown")).json()["data"]
        body = markdown["markdown_content"]
        assert scans.cer(scan.text, body) < 0.05, body
        assert scans.HEADER_TEXT not in body


@pytest.mark.slow
async def test_pages_of_one_upload_are_spread_over_the_pool(
    make_settings: SettingsFactory,
) -> None:
    """A 2-page PDF converts page by page across the runner's pool; every page is
    counted and the blocks keep page order."""
    from tests.support.documents import text_pdf

    first = text_pdf([["Alpha page with real text."], ["Omega page with real text."]])
    settings = make_settings(default_engine="local", engine_workers=2)
    async with live_server(settings) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        task = (await upload_bytes(client, first, "two.pdf")).json()["data"]
        done = await wait_for_status(client, task["id"], ("completed", "failed"), timeout=180)
        assert done["status"] == "completed", done["error_message"]
        assert done["pages_done"] == 2
        blocks = (await client.get(f"/api/tasks/{task['id']}/blocks")).json()["data"]
        pages = [b["page_num"] for b in blocks["preproc_blocks"]]
        assert pages == sorted(pages) and set(pages) == {1, 2}
        text = " ".join(b["content"] for b in blocks["preproc_blocks"])
        assert text.index("Alpha") < text.index("Omega")
