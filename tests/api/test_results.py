"""Reading results: images behind signed URLs, page renders, previews, originals."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile

import pytest
from PIL import Image

from tests.conftest import SettingsFactory, register, upload_bytes, wait_for_status
from tests.support.documents import text_pdf
from tests.support.server import LiveServer, live_server

PDF = text_pdf([["First page of the results test."], ["Second page."]])


@pytest.fixture
async def completed(server: LiveServer):  # type: ignore[no-untyped-def]
    async with server.client() as client:
        token = await register(client)
        client.headers["Authorization"] = f"Bearer {token}"
        task = (await upload_bytes(client, PDF, "results.pdf", engine="slow")).json()["data"]
        await wait_for_status(client, task["id"], ("completed",))
        yield token, task["id"]


async def test_images_are_served_by_signed_url_only(
    server: LiveServer, completed: tuple[str, str]
) -> None:
    token, task_id = completed
    async with server.client(token) as owner, server.client() as anonymous:
        markdown = (await owner.get(f"/api/tasks/{task_id}/markdown")).json()["data"]
        link = re.search(r"!\[Page one, small\]\((/media/[^)]+)\)", markdown["markdown_content"])
        assert link, markdown["markdown_content"]
        image = await anonymous.get(link.group(1))
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/png"
        assert image.headers["x-content-type-options"] == "nosniff"
        assert Image.open(io.BytesIO(image.content)).size[0] > 10

        images = (await owner.get(f"/api/tasks/{task_id}/images")).json()["data"]
        assert images[0]["filename"] == "p1_figure.png"
        assert images[0]["alt"] == "Page one, small"
        assert (await anonymous.get(images[0]["url"])).content == image.content

        blocks = (await owner.get(f"/api/tasks/{task_id}/blocks")).json()["data"]
        figure = next(b for b in blocks["preproc_blocks"] if b["type"] == "image")
        assert figure["image_path"].startswith("/media/")
        assert figure["caption"] == "Page one, small"

        plain = f"/media/{task_id}/images/p1_figure.png"
        assert (await anonymous.get(plain)).status_code == 404
        assert (await owner.get(plain)).status_code == 200
        tampered = link.group(1).replace("sig=", "sig=0")
        assert (await anonymous.get(tampered)).status_code == 404
        expired = re.sub(r"exp=\d+", "exp=1000", link.group(1))
        assert (await anonymous.get(expired)).status_code == 404

        for path in (
            "document.json",
            "../result/document.md",
            "images/../document.md",
            "images/missing.png",
        ):
            response = await owner.get(f"/media/{task_id}/{path}")
            assert response.status_code == 404, path


async def test_zip_keeps_relative_image_links(
    server: LiveServer, completed: tuple[str, str]
) -> None:
    token, task_id = completed
    async with server.client(token) as owner:
        archive = zipfile.ZipFile(io.BytesIO((await owner.get(f"/api/download/{task_id}")).content))
        assert "images/p1_figure.png" in archive.namelist()
        assert "](images/p1_figure.png)" in archive.read("document.md").decode()


async def test_page_images_and_preview(server: LiveServer, completed: tuple[str, str]) -> None:
    token, task_id = completed
    async with server.client(token) as owner:
        page = await owner.get(f"/api/tasks/{task_id}/pages/2")
        assert page.status_code == 200 and page.headers["content-type"] == "image/png"
        rendered = Image.open(io.BytesIO(page.content))
        assert rendered.width == 1200 and rendered.height > rendered.width
        again = await owner.get(
            f"/api/tasks/{task_id}/pages/2", headers={"If-None-Match": page.headers["etag"]}
        )
        assert again.status_code == 304
        for bad in ("0", "3", "-1"):
            assert (await owner.get(f"/api/tasks/{task_id}/pages/{bad}")).status_code == 422
        assert (await owner.get(f"/api/tasks/{task_id}/pages/two")).status_code == 422

        preview = (await owner.get(f"/api/tasks/{task_id}/preview")).json()["data"]
        assert preview["file_exists"] is True and preview["total_pages"] == 2
        assert preview["file_type"] == "pdf" and preview["file_size"] == len(PDF)

        original = await owner.get(preview["preview_url"])
        assert original.content == PDF
        assert original.headers["etag"] == f'"{hashlib.sha256(PDF).hexdigest()}"'
        assert original.headers["content-type"] == "application/pdf"
        cached = await owner.get(
            preview["preview_url"], headers={"If-None-Match": original.headers["etag"]}
        )
        assert cached.status_code == 304


async def test_results_of_an_unfinished_task_are_409(make_settings: SettingsFactory) -> None:
    async with live_server(make_settings(), run_jobs=False) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        task = (await upload_bytes(client, text_pdf([["x"]]), engine="slow")).json()["data"]
        for route in ("result", "markdown", "blocks", "images"):
            response = await client.get(f"/api/tasks/{task['id']}/{route}")
            assert response.status_code == 409 and response.json()["error"] == "task_not_ready"
        assert (await client.get(f"/api/download/{task['id']}")).status_code == 409
        page = await client.get(f"/api/tasks/{task['id']}/pages/1")
        assert page.status_code == 200, "pages render from the original, before conversion"


async def test_unknown_task_is_404(server: LiveServer) -> None:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        for path in (
            "/api/tasks/nope/status",
            "/api/download/nope",
            "/api/files/nope/original",
            "/api/tasks/" + "x" * 65 + "/status",
        ):
            response = await client.get(path)
            assert response.status_code in (404, 422), path
