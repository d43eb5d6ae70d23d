"""Bad uploads get a clear 4xx in the error envelope, and leave nothing behind."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import SettingsFactory, register, upload_bytes
from tests.support.documents import text_pdf
from tests.support.server import LiveServer, live_server


def leftover_files(data_dir: Path) -> list[Path]:
    folders = [data_dir / "tmp", data_dir / "blobs"]
    return [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]


def assert_error(response, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["data"] is None
    assert body["error"] == code
    assert body["message"] and body["detail"] == body["message"]


@pytest.fixture
async def small_limit_server(make_settings: SettingsFactory):  # type: ignore[no-untyped-def]
    async with live_server(make_settings(max_upload_mb=1, max_pages=3)) as live:
        yield live


async def test_over_the_limit_is_413_and_keeps_nothing(small_limit_server: LiveServer) -> None:
    async with small_limit_server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        big = b"%PDF-1.7\n" + b"0" * (3 * 1024 * 1024)
        response = await upload_bytes(client, big, "big.pdf")
        assert_error(response, 413, "file_too_large")
        assert leftover_files(small_limit_server.settings.data_dir) == []


async def test_over_the_limit_without_content_length_is_413(
    small_limit_server: LiveServer,
) -> None:
    """A chunked body (no Content-Length) is cut off while streaming."""
    boundary = "docmillboundary"

    async def body():  # type: ignore[no-untyped-def]
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="big.pdf"\r\n\r\n'
        ).encode() + b"%PDF-1.7\n"
        for _ in range(40):
            yield b"0" * (128 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    async with small_limit_server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        response = await client.post(
            "/api/upload",
            content=body(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert_error(response, 413, "file_too_large")
        assert leftover_files(small_limit_server.settings.data_dir) == []


async def test_renamed_text_file_is_415(server: LiveServer) -> None:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        response = await upload_bytes(client, b"just some text, not a PDF\n" * 10, "notes.pdf")
        assert_error(response, 415, "unsupported_file_type")
        assert leftover_files(server.settings.data_dir) == []


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref", "corrupt_pdf"),
        (text_pdf([["cut short"]])[:200], "corrupt_pdf"),
    ],
    ids=["empty", "corrupt", "truncated"],
)
async def test_empty_or_corrupt_pdf_is_a_clear_422(
    server: LiveServer, data: bytes, code: str
) -> None:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        response = await upload_bytes(client, data, "bad.pdf")
        assert_error(response, 422, code)
        assert leftover_files(server.settings.data_dir) == []


async def test_encrypted_pdf_is_a_clear_422(server: LiveServer) -> None:
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, encrypt=pdfencrypt.StandardEncryption("secret", canPrint=0))
    pdf.drawString(72, 720, "locked")
    pdf.save()
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        response = await upload_bytes(client, buffer.getvalue(), "locked.pdf")
        assert_error(response, 422, "encrypted_pdf")
        assert "password" in response.json()["message"]


async def test_too_many_pages_is_422(small_limit_server: LiveServer) -> None:
    async with small_limit_server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        response = await upload_bytes(client, text_pdf([["p"]] * 5), "long.pdf")
        assert_error(response, 422, "too_many_pages")


async def test_truncated_image_is_422(server: LiveServer) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 100), "white").save(buffer, format="PNG")
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        response = await upload_bytes(client, buffer.getvalue()[:60], "cut.png")
        assert_error(response, 422, "corrupt_image")


@pytest.mark.parametrize(
    ("fields", "message_part"),
    [
        ({"engine": "no-such-engine"}, "Unknown engine"),
        ({"is_public": "maybe"}, "is_public"),
        ({"force_ocr": "perhaps"}, "force_ocr"),
    ],
)
async def test_bad_form_fields_are_422(
    server: LiveServer, fields: dict[str, str], message_part: str
) -> None:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        response = await upload_bytes(client, text_pdf([["ok"]]), "ok.pdf", **fields)
        assert response.status_code == 422, response.text
        assert message_part in response.json()["message"]
        assert leftover_files(server.settings.data_dir) == []


async def test_upload_without_file_or_not_multipart(server: LiveServer) -> None:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        no_file = await client.post(
            "/api/upload", files={"other": ("x.txt", b"x")}, data={"is_public": "false"}
        )
        assert_error(no_file, 422, "no_file")
        not_multipart = await client.post("/api/upload", json={"file": "x"})
        assert_error(not_multipart, 422, "not_multipart")


async def test_upload_needs_credentials(server: LiveServer) -> None:
    async with server.client() as client:
        response = await upload_bytes(client, text_pdf([["ok"]]))
        assert_error(response, 401, "not_authenticated")


async def test_client_filename_is_only_a_display_name(server: LiveServer) -> None:
    async with server.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        response = await upload_bytes(
            client, text_pdf([["ok"]]), "../../etc/passwd.pdf", engine="slow"
        )
        task = response.json()["data"]
        assert task["filename"] == "passwd.pdf"
        stored = leftover_files(server.settings.data_dir)
        assert not any("passwd" in str(path) for path in stored)
        assert any(path.name == "original.pdf" for path in stored)
