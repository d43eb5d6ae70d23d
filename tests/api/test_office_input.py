"""Office documents in: LibreOffice makes the PDF, the usual pipeline does the rest.

One server converts the generated DOCX, PPTX, XLSX (and a DOC LibreOffice made of the
DOCX) once; the tests share those conversions. LibreOffice is a stand-in script that logs
every call and then runs the real program, so a test can prove it never started.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
import pytest_asyncio
from PIL import Image

from docmill.config import Settings
from tests.api.test_upload_errors import assert_error, leftover_files
from tests.conftest import (
    SettingsFactory,
    convert_all,
    register,
    server_settings,
    service_missing,
    upload_bytes,
    wait_for_status,
)
from tests.support import office
from tests.support.documents import text_pdf
from tests.support.server import LiveServer, live_server

TABLE_ROW = re.compile(r"\|\s*North\s*\|\s*120\s*\|\s*4\.50\s*\|")
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(/media/[^)]+\)")


def need_libreoffice() -> None:
    if not office.libreoffice_installed():
        service_missing("LibreOffice (soffice) is not installed; .ci/run installs it")


@dataclass
class OfficeRun:
    server: LiveServer
    token: str
    log: Path
    tasks: dict[str, dict[str, Any]]  # by file name, as completed
    sources: dict[str, bytes]


def _settings(folder: Path, soffice: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"default_engine": "local", "engine_workers": 1}
    return server_settings(folder, office_soffice=str(soffice), **(values | overrides))


def _legacy_doc(folder: Path, docx: bytes) -> bytes:
    """The generated DOCX saved by LibreOffice as an old binary .doc (OLE2)."""
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "legacy.docx"
    source.write_bytes(docx)
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={(folder / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            "doc",
            "--outdir",
            str(folder),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return (folder / "legacy.doc").read_bytes()


@pytest_asyncio.fixture(scope="module")
async def office_run(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OfficeRun]:
    need_libreoffice()
    folder = tmp_path_factory.mktemp("office")
    docx = office.docx_bytes()
    sources = {
        "report.docx": docx,
        "slides.pptx": office.pptx_bytes(),
        "stock.xlsx": office.xlsx_bytes(),
        "legacy.doc": await asyncio.to_thread(_legacy_doc, folder / "legacy", docx),
    }
    program, log = office.recording_soffice(folder / "bin")
    async with live_server(_settings(folder, program, job_concurrency=2)) as live:
        async with live.client() as client:
            token = await register(client)
            client.headers["Authorization"] = f"Bearer {token}"
            uploads = {name: (data, {}) for name, data in sources.items()}
            tasks = await convert_all(client, uploads, timeout=600)
        yield OfficeRun(live, token, log, tasks, sources)


async def test_office_documents_become_markdown_with_table_and_image(
    office_run: OfficeRun,
) -> None:
    expected_text = {
        "report.docx": [office.TITLE, office.PARAGRAPH],
        "legacy.doc": [office.TITLE, office.PARAGRAPH],
        "slides.pptx": [office.SLIDE_TITLE, office.PARAGRAPH],
        "stock.xlsx": [office.SHEET_NOTE],
    }
    async with office_run.server.client(office_run.token) as client:
        for name, task in office_run.tasks.items():
            assert task["status"] == "completed", task
            assert task["file_type"] == name.rsplit(".", 1)[1], task
            markdown = (await client.get(f"/api/tasks/{task['id']}/markdown")).json()["data"][
                "markdown_content"
            ]
            for text in expected_text[name]:
                assert text in markdown, (name, markdown)
            assert TABLE_ROW.search(markdown), (name, markdown)
            assert IMAGE_LINK.search(markdown), (name, markdown)
            original = await client.get(f"/api/files/{task['id']}/original")
            assert original.content == office_run.sources[name], "the original is kept"


async def test_office_pages_render_and_blocks_lie_on_them(office_run: OfficeRun) -> None:
    async with office_run.server.client(office_run.token) as client:
        for name, task in office_run.tasks.items():
            page = await client.get(f"/api/tasks/{task['id']}/pages/1")
            assert page.status_code == 200, (name, page.text)
            image = Image.open(io.BytesIO(page.content))
            assert image.width == 1200 and image.height > 300
            assert image.convert("L").getextrema()[0] < 100, "the page has ink on it"
            blocks = (await client.get(f"/api/tasks/{task['id']}/blocks")).json()["data"]
            width, height = blocks["preproc_blocks"][0]["page_size"]
            assert width > 300 and height > 300
            for block in blocks["preproc_blocks"]:
                x0, y0, x1, y1 = block["bbox"]
                assert 0 <= x0 < x1 <= width + 1 and 0 <= y0 < y1 <= height + 1, block
            assert (await client.get(f"/api/tasks/{task['id']}/pages/2")).status_code == 422


async def test_office_searchable_pdf_keeps_libreoffice_text(office_run: OfficeRun) -> None:
    task = office_run.tasks["report.docx"]
    async with office_run.server.client(office_run.token) as client:
        response = await client.get(f"/api/tasks/{task['id']}/pdf")
        assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
        pdf = pdfium.PdfDocument(response.content)
        try:
            text = pdf[0].get_textpage().get_text_range()
        finally:
            pdf.close()
        assert office.PARAGRAPH in " ".join(text.split())


async def test_bad_office_files_are_refused_before_libreoffice(office_run: OfficeRun) -> None:
    before = office.calls(office_run.log)
    data_dir = office_run.server.settings.data_dir
    tasks_before = sorted(p.name for p in (data_dir / "blobs").glob("*/*"))
    cases = [
        ("bomb.docx", office.zip_bomb_docx(), 422, "unsafe_document"),
        ("renamed.docx", office.random_zip(), 415, "unsupported_file_type"),
        ("locked.docx", office.encrypted_docx(), 422, "encrypted_document"),
        ("macros.docm", office.macro_docm(), 422, "macro_enabled_document"),
    ]
    async with office_run.server.client(office_run.token) as client:
        for name, data, status, code in cases:
            response = await upload_bytes(client, data, name)
            assert_error(response, status, code)
        listed = (await client.get("/api/tasks")).json()["data"]
    assert len(listed) == len(office_run.tasks), "no task was made for a refused file"
    assert sorted(p.name for p in (data_dir / "blobs").glob("*/*")) == tasks_before
    assert [p for p in (data_dir / "tmp").rglob("*") if p.is_file()] == []
    assert office.calls(office_run.log) == before, "LibreOffice never started for them"
    assert len(before) >= len(office_run.tasks), "the log does record real conversions"


async def test_hanging_libreoffice_is_killed_and_the_worker_goes_on(
    tmp_path: Path,
) -> None:
    program, log = office.recording_soffice(tmp_path / "bin", sleep_s=600)
    settings = _settings(tmp_path, program, office_timeout_s=2, default_engine="pdf_text")
    async with live_server(settings) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        task = (await upload_bytes(client, office.docx_bytes(), "hangs.docx")).json()["data"]
        failed = await wait_for_status(client, task["id"], ("failed", "completed"), 60)
        assert failed["status"] == "failed"
        assert "did not finish" in failed["error_message"], failed["error_message"]
        assert "2 s" in failed["error_message"]
        (pid, *_) = office.calls(log)[0].split()
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid), 0)  # the stand-in (its whole process group) is gone
        after = (await upload_bytes(client, text_pdf([["Still working"]]), "after.pdf")).json()
        done = await wait_for_status(client, after["data"]["id"], ("completed", "failed"))
        assert done["status"] == "completed", done


async def test_without_libreoffice_office_uploads_say_how_to_enable_them(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(office_soffice="/nonexistent/soffice")
    async with live_server(settings) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        response = await upload_bytes(client, office.docx_bytes(), "report.docx")
        assert_error(response, 415, "unsupported_file_type")
        assert "LibreOffice" in response.json()["message"]
        assert "DOCMILL_OFFICE_SOFFICE" in response.json()["message"]
        ready = (await client.get("/ready")).json()["data"]
        assert ready["ready"] is True and ready["checks"]["office_input"] == "off"
        assert ready["inputs"]["office"]["enabled"] is False
        assert leftover_files(settings.data_dir) == []


async def test_ready_says_office_input_is_on(office_run: OfficeRun) -> None:
    async with office_run.server.client() as client:
        ready = (await client.get("/ready")).json()["data"]
    assert ready["checks"]["office_input"] == "ok"
    office_inputs = ready["inputs"]["office"]
    assert office_inputs["enabled"] is True and office_inputs["timeout_s"] > 0
    assert "docx" in ready["inputs"]["formats"]
