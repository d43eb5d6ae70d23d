"""Searchable PDF and plain text out.

A scanned page with known text goes through the local engine; the text pypdfium2 reads
back from `/pdf` must be the truth (CER ≤ 2 %), and each word's box must lie over the
word as printed (IoU ≥ 0.5 for 95 % of the words). The truth boxes come from the
born-digital page the scan was made of.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import pytest_asyncio

from docmill.document import BBox, Word
from docmill.engines.words import text_layer_words
from tests.conftest import (
    SettingsFactory,
    convert_all,
    register,
    server_settings,
    service_missing,
    upload_bytes,
)
from tests.support import scans
from tests.support.documents import text_pdf
from tests.support.server import LiveServer, live_server

pytestmark = pytest.mark.slow


@dataclass
class Scanned:
    server: LiveServer
    token: str
    truth: scans.Sample
    truth_words: list[Word]
    tasks: dict[str, dict[str, Any]]


def rotated_scan(source: scans.Sample, path: Path, dpi: int) -> scans.Sample:
    """The page stored sideways with /Rotate 90, as scanners often write it: it still
    displays upright, so its words are where they are on the upright page."""
    scans.rasterize(source.path, dpi).rotate(90, expand=True).save(
        path, format="PDF", resolution=float(dpi)
    )
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        pdf.pages[0].Rotate = 90
        pdf.save(path)
    return scans.Sample(path, source.text)


@pytest_asyncio.fixture(scope="module")
async def scanned(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Scanned]:
    folder = tmp_path_factory.mktemp("searchable")
    truth = scans.english_pdf(folder / "born.pdf", with_furniture=False)
    pdf = pdfium.PdfDocument(truth.path)
    try:
        truth_words = text_layer_words(pdf[0])
    finally:
        pdf.close()
    png = folder / "scan.png"
    scans.rasterize(truth.path, 200).save(png, dpi=(200, 200))
    files = {
        "scan.pdf": scans.scanned_pdf(truth, folder / "scan.pdf", 200).path,
        "scan.png": png,
        "sideways.pdf": rotated_scan(truth, folder / "sideways.pdf", 200).path,
        "born.pdf": truth.path,
    }
    settings = server_settings(folder, default_engine="local", engine_workers=1)
    async with live_server(settings) as live, live.client() as client:
        token = await register(client)
        client.headers["Authorization"] = f"Bearer {token}"
        uploads = {
            name: (path.read_bytes(), {"engine": "pdf_text"} if name == "born.pdf" else {})
            for name, path in files.items()
        }
        tasks = await convert_all(client, uploads)
        yield Scanned(live, token, truth, truth_words, tasks)


def iou(a: BBox, b: BBox) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    shared = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - shared
    return shared / union if union > 0 else 0.0


async def _pdf(scanned: Scanned, name: str) -> bytes:
    task = scanned.tasks[name]
    assert task["status"] == "completed", task
    async with scanned.server.client(scanned.token) as client:
        response = await client.get(f"/api/tasks/{task['id']}/pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return response.content


@pytest.mark.parametrize("name", ["scan.pdf", "scan.png", "sideways.pdf"])
async def test_searchable_pdf_text_and_word_boxes(scanned: Scanned, name: str) -> None:
    pdf = pdfium.PdfDocument(await _pdf(scanned, name))
    try:
        assert len(pdf) == 1
        page = pdf[0]
        text = page.get_textpage().get_text_range()
        words = text_layer_words(page)
        # Image pages are sized by their DPI; compare in the born-digital page's points.
        scale = page.get_width() / 297.64 if name.endswith(".png") else 1.0
    finally:
        pdf.close()
    assert scans.cer(scanned.truth.text, text) <= 0.02, text
    found = [
        max(
            (iou(truth.bbox, _scaled(w.bbox, scale)) for w in words if w.text == truth.text),
            default=0,
        )
        for truth in scanned.truth_words
    ]
    placed = sum(value >= 0.5 for value in found) / len(found)
    assert placed >= 0.95, list(zip([w.text for w in scanned.truth_words], found, strict=True))


def _scaled(box: BBox, scale: float) -> BBox:
    return (box[0] / scale, box[1] / scale, box[2] / scale, box[3] / scale)


async def test_pages_with_a_text_layer_are_left_as_they_were(scanned: Scanned) -> None:
    original = pikepdf.open(scanned.truth.path)
    searchable = pikepdf.open(io.BytesIO(await _pdf(scanned, "born.pdf")))
    try:
        assert len(searchable.pages) == len(original.pages)
        assert searchable.pages[0].Contents.read_bytes() == original.pages[0].Contents.read_bytes()
    finally:
        original.close()
        searchable.close()


async def test_scanned_pdf_keeps_its_page_and_picture(scanned: Scanned) -> None:
    pdf = pdfium.PdfDocument(await _pdf(scanned, "scan.pdf"))
    try:
        page = pdf[0]
        pictures = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))
        assert len(pictures) == 1, "the scan is still there"
        assert [round(v) for v in page.get_mediabox()] == [0, 0, 298, 420]
    finally:
        pdf.close()


async def test_plain_text_and_zip_carry_the_new_outputs(scanned: Scanned) -> None:
    task = scanned.tasks["scan.pdf"]
    async with scanned.server.client(scanned.token) as client:
        text = await client.get(f"/api/tasks/{task['id']}/text")
        assert text.status_code == 200
        assert text.headers["content-type"].startswith("text/plain")
        assert scans.cer(scanned.truth.text, text.text) <= 0.02, text.text
        assert "#" not in text.text and "*" not in text.text
        archive = zipfile.ZipFile(
            io.BytesIO((await client.get(f"/api/download/{task['id']}")).content)
        )
        assert {"searchable.pdf", "document.txt", "document.md"} <= set(archive.namelist())
        assert archive.read("document.txt").decode() == text.text
        again = await client.get(
            f"/api/tasks/{task['id']}/pdf", headers={"If-None-Match": '"nothing"'}
        )
        assert again.headers["accept-ranges"] == "bytes"
        head = await client.head(f"/api/tasks/{task['id']}/pdf")
        assert head.status_code == 200 and int(head.headers["content-length"]) > 1000
        partial = await client.get(f"/api/tasks/{task['id']}/pdf", headers={"Range": "bytes=0-4"})
        assert partial.status_code == 206 and partial.content == b"%PDF-"


async def test_new_routes_answer_bad_requests(make_settings: SettingsFactory) -> None:
    async with live_server(make_settings(), run_jobs=False) as live, live.client() as client:
        client.headers["Authorization"] = f"Bearer {await register(client)}"
        for route in ("pdf", "text", "children"):
            missing = await client.get(f"/api/tasks/nope/{route}")
            assert missing.status_code == 404 and missing.json()["error"] == "task_not_found"
        task = (await upload_bytes(client, text_pdf([["x"]]), engine="slow")).json()["data"]
        for route in ("pdf", "text"):
            response = await client.get(f"/api/tasks/{task['id']}/{route}")
            assert response.status_code == 409, response.text
            assert response.json()["error"] == "task_not_ready"
        children = await client.get(f"/api/tasks/{task['id']}/children")
        assert children.status_code == 200 and children.json()["data"] == []
        anonymous = await live.client().get(f"/api/tasks/{task['id']}/pdf")
        assert anonymous.status_code == 404


async def test_convert_cli_writes_a_searchable_pdf(
    scanned: Scanned, tmp_path: Path, make_settings: SettingsFactory
) -> None:
    from docmill.convert_cli import convert_file
    from docmill.engines.base import ConvertOptions

    source = tmp_path / "scan.png"
    scans.rasterize(scanned.truth.path, 200).save(source, dpi=(200, 200))
    document = convert_file(
        source, tmp_path / "out", "local", ConvertOptions(), make_settings(), searchable_pdf=True
    )
    assert document.pages[0].words, "the engine fills Page.words"
    pdf = pdfium.PdfDocument(tmp_path / "out" / "searchable.pdf")
    try:
        assert scans.cer(scanned.truth.text, pdf[0].get_textpage().get_text_range()) <= 0.02
    finally:
        pdf.close()
    assert (tmp_path / "out" / "document.txt").read_text().strip()


async def test_chinese_words_are_searchable_as_written(tmp_path: Path) -> None:
    """CJK text is written without spaces between characters, so a viewer finds 文档转换."""
    from docmill.engines.base import ConvertOptions
    from docmill.engines.local import LocalEngine
    from docmill.exports.searchable_pdf import build_searchable_pdf

    if scans.find_cjk_font() is None:
        service_missing("no CJK font: apt-get install fonts-wqy-microhei (see Makefile)")
    sample = scans.scanned_pdf(scans.chinese_pdf(tmp_path / "zh.pdf"), tmp_path / "scan.pdf", 200)
    document = await asyncio.to_thread(
        LocalEngine().convert, sample.path, tmp_path / "out", ConvertOptions()
    )
    await asyncio.to_thread(build_searchable_pdf, sample.path, document, tmp_path / "s.pdf")
    pdf = pdfium.PdfDocument(tmp_path / "s.pdf")
    try:
        text = pdf[0].get_textpage().get_text_range()
    finally:
        pdf.close()
    assert "文档转换服务" in text, text
    assert scans.cer(sample.text, text) <= 0.02, text
