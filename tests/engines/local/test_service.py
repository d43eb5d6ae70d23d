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
