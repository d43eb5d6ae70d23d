"""HTML, Markdown and e-mail in: parsed natively (no OCR, no network), e-mail attachments
as child tasks of their own."""

from __future__ import annotations

import base64
import io
import re
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler

import pytest
from PIL import Image

from tests.api.test_upload_errors import assert_error
from tests.conftest import SettingsFactory, register, upload_bytes, wait_for_status
from tests.support.documents import text_pdf
from tests.support.http import serve_routes
from tests.support.server import LiveServer, live_server


def png_bytes(color: str = "red", size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def page_html(remote: str) -> str:
    inline = base64.b64encode(png_bytes()).decode()
    return f"""<!DOCTYPE html>
<html><head><title>Release notes</title><style>p {{ color: red }}</style>
<script>document.write("tracking")</script></head>
<body>
<h1>Release notes</h1>
<p>Version <b>2.0</b> adds <a href="https://example.com/docs">the new docs</a> and * stars.</p>
<h2>Changes</h2>
<ul><li>Faster uploads</li><li>Office input<ul><li>DOCX and PPTX</li></ul></li></ul>
<table><thead><tr><th>Format</th><th>Status</th></tr></thead>
<tbody><tr><td>HTML</td><td>done</td></tr><tr><td>EML</td><td>done</td></tr></tbody></table>
<img src="data:image/png;base64,{inline}" alt="Inline chart">
<img src="{remote}/logo.png" alt="Remote logo">
</body></html>"""


MARKDOWN = """# Meeting notes

Decided to ship **Friday**; see [the plan](https://example.com/plan).

- Write the docs
- Test the *release*
  1. on staging
  2. on production

| Owner | Task |
|-------|------|
| Ana   | Docs |
| Ben   | Tests |

![diagram]({remote}/diagram.png)
"""


@pytest.fixture
async def remote_assets():  # type: ignore[no-untyped-def]
    """An HTTP server the documents point their images at; it counts requests."""
    hits: list[str] = []

    def image(handler: BaseHTTPRequestHandler) -> None:
        hits.append(handler.path)
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        data = png_bytes()
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    with serve_routes({"/logo.png": image, "/diagram.png": image}) as url:
        yield url, hits


async def _converted(client, data: bytes, name: str) -> dict:  # type: ignore[no-untyped-def]
    response = await upload_bytes(client, data, name)
    assert response.status_code == 202, response.text
    task = await wait_for_status(client, response.json()["data"]["id"], ("completed", "failed"))
    assert task["status"] == "completed", task
    return task


async def test_html_becomes_structured_markdown(server: LiveServer, remote_assets) -> None:  # type: ignore[no-untyped-def]
    remote, hits = remote_assets
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        task = await _converted(client, page_html(remote).encode(), "notes.html")
        assert task["file_type"] == "html"
        result = (await client.get(f"/api/tasks/{task['id']}/result")).json()["data"]
        markdown = result["markdown_content"]
        assert "# Release notes" in markdown and "## Changes" in markdown
        assert "Version **2.0** adds [the new docs](https://example.com/docs) and \\* stars." in (
            markdown
        )
        assert "- Faster uploads\n- Office input\n  - DOCX and PPTX" in markdown
        assert "| Format | Status |\n| --- | --- |\n| HTML | done |\n| EML | done |" in markdown
        assert "tracking" not in markdown and "color" not in markdown
        inline = re.search(r"!\[Inline chart\]\((/media/[^)]+)\)", markdown)
        assert inline, markdown
        assert f"![Remote logo]({remote}/logo.png)" in markdown
        image = await client.get(inline.group(1))
        assert image.status_code == 200 and Image.open(io.BytesIO(image.content)).size == (40, 30)
        assert result["metadata"]["document"]["title"] == "Release notes"
        text = (await client.get(f"/api/tasks/{task['id']}/text")).text
        assert "Version 2.0 adds the new docs and * stars." in text
        assert "Format\tStatus\nHTML\tdone" in text
        blocks = (await client.get(f"/api/tasks/{task['id']}/blocks")).json()["data"]
        kinds = [block["type"] for block in blocks["preproc_blocks"]]
        assert kinds[:2] == ["title", "text"] and "list" in kinds and "table" in kinds
        assert (await client.get(f"/api/tasks/{task['id']}/pdf")).json()["error"] == "no_pages"
        assert (await client.get(f"/api/tasks/{task['id']}/pages/1")).status_code == 409
    assert hits == [], "images referenced by the page are never fetched"


async def test_markdown_file_is_read_by_content_and_name(server: LiveServer, remote_assets) -> None:  # type: ignore[no-untyped-def]
    remote, hits = remote_assets
    source = MARKDOWN.format(remote=remote).encode()
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        task = await _converted(client, source, "notes.md")
        assert task["file_type"] == "markdown"
        markdown = (await client.get(f"/api/tasks/{task['id']}/markdown")).json()["data"][
            "markdown_content"
        ]
        assert markdown.startswith("# Meeting notes")
        assert "Decided to ship **Friday**; see [the plan](https://example.com/plan)." in markdown
        assert "- Test the *release*\n  1. on staging\n  2. on production" in markdown
        assert "| Ana | Docs |" in markdown
        assert f"![diagram]({remote}/diagram.png)" in markdown
        # Plain text is not Markdown: the same bytes under another name are refused.
        assert_error(await upload_bytes(client, source, "notes.txt"), 415, "unsupported_file_type")
    assert hits == []


def _email(*attachments: tuple[str, bytes, str]) -> bytes:
    message = EmailMessage()
    message["From"] = "Ana <ana@example.com>"
    message["To"] = "team@example.com"
    message["Subject"] = "Quarter figures"
    message["Date"] = "Mon, 01 Dec 2025 10:00:00 +0000"
    message["Message-ID"] = "<figures@example.com>"
    for hop in range(30):  # headers longer than the first kilobyte, as relayed mail has
        message["Received"] = f"from relay{hop}.example.com by mx.example.com; hop {hop}"
    message.set_content("Hello team,\n\nthe figures are attached.\n\nAna")
    message.add_alternative(
        "<html><body><p>Hello team,</p><p>the <b>figures</b> are attached.</p>"
        "<p>Ana</p></body></html>",
        subtype="html",
    )
    for name, data, mime in attachments:
        maintype, subtype = mime.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


async def test_email_with_attachments_gives_parent_and_child_tasks(
    make_settings: SettingsFactory,
) -> None:
    eml = _email(
        ("figures.pdf", text_pdf([["Attached figures for the quarter"]]), "application/pdf"),
        ("minutes.md", b"# Minutes\n\nAll figures were approved.\n", "text/markdown"),
        ("archive.zip", b"PK\x05\x06" + b"\0" * 18, "application/zip"),
    )
    async with live_server(make_settings(default_engine="slow")) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        me = (await client.get("/api/auth/me")).json()
        parent = await _converted(client, eml, "figures.eml")
        assert parent["file_type"] == "email" and parent["parent_id"] is None
        markdown = (await client.get(f"/api/tasks/{parent['id']}/result")).json()["data"]
        assert "the **figures** are attached." in markdown["markdown_content"]
        headers = markdown["metadata"]["document"]
        assert headers["subject"] == "Quarter figures" and "ana@example.com" in headers["from"]

        children = (await client.get(f"/api/tasks/{parent['id']}/children")).json()["data"]
        assert sorted(child["filename"] for child in children) == ["figures.pdf", "minutes.md"]
        user_id = me.get("id", me.get("data", {}).get("id"))
        for child in children:
            assert child["parent_id"] == parent["id"] and child["user_id"] == user_id
            done = await wait_for_status(client, child["id"], ("completed", "failed"))
            assert done["status"] == "completed", done
        listed = (await client.get("/api/tasks")).json()["data"]
        assert len(listed) == 3
        status = (await client.get(f"/api/tasks/{parent['id']}/status")).json()["data"]
        notes = " ".join(event["message"] for event in status["status_history"])
        assert "2 attachment(s) queued" in notes and "archive.zip" in notes

        async with live.client() as stranger:
            stranger.headers["Authorization"] = f"Bearer {await register(stranger)}"
            hidden = await stranger.get(f"/api/tasks/{parent['id']}/children")
            assert hidden.status_code == 404


async def test_too_large_markup_is_refused(make_settings: SettingsFactory) -> None:
    async with live_server(make_settings(max_markup_mb=1)) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        big = b"<!DOCTYPE html><html><body>" + b"<p>words</p>" * 200_000 + b"</body></html>"
        assert_error(await upload_bytes(client, big, "big.html"), 413, "file_too_large")
