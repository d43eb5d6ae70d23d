"""The `pdf_text` engine: born-digital PDFs through their text layer, no OCR.

The per-page pieces (`read_text_page`, `convert_text_page`, `layout_pages`) are public so
the OCR engine can use the text layer on the pages that have one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pypdfium2 as pdfium

from docmill.document import Block, Document, EngineInfo, Page, Source, Word
from docmill.engines.base import ConvertOptions, EngineError, ProgressCallback, no_progress
from docmill.engines.furniture import PageLines, find_furniture
from docmill.engines.layout_text import Line
from docmill.engines.text_blocks import FontProfile, blocks_from_lines, number_blocks
from docmill.engines.textlayer import (
    extract_page_lines,
    page_has_images,
    page_has_text_layer,
    page_size,
)
from docmill.engines.words import text_layer_words

PDF_MIME = "application/pdf"
ENGINE_VERSION = "1.0"

_IMAGE_MAGICS: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF8",
    b"II*\x00",
    b"MM\x00*",
    b"BM",
)


class NoTextLayer(EngineError):
    """A page has no usable text layer (it looks scanned): it needs OCR."""

    def __init__(self, page_index: int) -> None:
        super().__init__(
            f"page {page_index + 1} has no text layer (it looks scanned); the OCR engine is needed"
        )
        self.page_index = page_index


@dataclass(frozen=True)
class TextPage:
    """The text-layer lines of one page, with the page's size in points."""

    index: int  # 0-based
    width: float
    height: float
    lines: list[Line]


def check_pdf_header(path: Path) -> None:
    """Return if `path` starts like a PDF.

    Raises EngineError: for images ("images need the OCR engine") and other files.
    """
    with path.open("rb") as handle:
        head = handle.read(1024)
    if b"%PDF-" in head:
        return
    if head.startswith(_IMAGE_MAGICS) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        raise EngineError("images need the OCR engine; the pdf_text engine reads PDFs only")
    raise EngineError("the file is not a PDF")


def open_pdf(path: Path) -> pdfium.PdfDocument:
    """The opened PDF (close it when done).

    Raises EngineError: when the file is not a PDF, is damaged or is password-protected.
    """
    check_pdf_header(path)
    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise EngineError(
                "the PDF is password-protected; remove the password and upload it again"
            ) from error
        raise EngineError(f"the PDF cannot be read (damaged or not a PDF): {error}") from error


def read_text_page(pdf_page: pdfium.PdfPage, page_index: int) -> TextPage:
    """The text-layer lines of one page.

    Raises NoTextLayer (an EngineError): the page has images but no usable text, i.e. it
    looks scanned. A blank page gives a TextPage without lines.
    """
    width, height = page_size(pdf_page)
    if not page_has_text_layer(pdf_page):
        if page_has_images(pdf_page):
            raise NoTextLayer(page_index)
        return TextPage(page_index, width, height, [])
    return TextPage(page_index, width, height, extract_page_lines(pdf_page))


def layout_pages(pages: Sequence[TextPage], start: int = 0) -> list[Block]:
    """Blocks of all `pages` in reading order, numbered from `start`.

    Furniture (running headers, footers, page numbers) and the heading sizes are decided
    across all the pages given, so pass the whole document when you have it.
    """
    furniture = find_furniture([PageLines(page.height, page.lines) for page in pages])
    profile = FontProfile.from_lines(line for page in pages for line in page.lines)
    blocks: list[Block] = []
    for page, marks in zip(pages, furniture, strict=True):
        blocks.extend(blocks_from_lines(page.lines, page.index, profile, marks))
    return number_blocks(blocks, start)


def convert_text_page(
    pdf_page: pdfium.PdfPage, page_index: int, profile: FontProfile | None = None
) -> list[Block]:
    """Blocks of one page from its text layer alone, orders counting from 0.

    Without a document-wide `profile` the body and heading sizes come from this page; page
    furniture is only recognised by page numbers (repeats need other pages).

    Raises NoTextLayer: the page looks scanned.
    """
    page = read_text_page(pdf_page, page_index)
    if profile is None:
        return layout_pages([page])
    marks = find_furniture([PageLines(page.height, page.lines)])[0]
    return blocks_from_lines(page.lines, page_index, profile, marks)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of the file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class PdfTextEngine:
    """Converts born-digital PDFs through their text layer; scanned pages are an error."""

    name = "pdf_text"
    version = f"{ENGINE_VERSION} (pypdfium2 {pdfium.PYPDFIUM_INFO})"
    kind = "cpu"

    def convert(
        self,
        path: Path,
        out_dir: Path,
        options: ConvertOptions,
        progress: ProgressCallback = no_progress,
    ) -> Document:
        """The Document of the PDF at `path` (nothing is written to `out_dir`).

        Raises EngineError: not a PDF, an image, damaged, password-protected, more pages
        than `options.max_pages`, or a page without a text layer.
        Raises Cancelled: when `progress` does.
        """
        started = time.perf_counter()
        pdf = open_pdf(path)
        try:
            total = len(pdf)
            if total > options.max_pages:
                raise EngineError(
                    f"the PDF has {total} pages; at most {options.max_pages} are allowed"
                )
            pages: list[TextPage] = []
            words: list[list[Word]] = []
            for index in range(total):
                pdf_page = pdf[index]
                try:
                    pages.append(read_text_page(pdf_page, index))
                    words.append(text_layer_words(pdf_page))
                finally:
                    pdf_page.close()
                progress(index + 1, total)
        finally:
            pdf.close()
        extracted = time.perf_counter()
        blocks = layout_pages(pages)
        finished = time.perf_counter()
        return Document(
            source=Source(filename=path.name, sha256=sha256_of(path), mime=PDF_MIME, pages=total),
            engine=EngineInfo(name=self.name, version=self.version, options=asdict(options)),
            pages=[
                Page(index=page.index, width=page.width, height=page.height, words=page_words)
                for page, page_words in zip(pages, words, strict=True)
            ],
            blocks=blocks,
            timings={
                "extract": round(extracted - started, 4),
                "layout": round(finished - extracted, 4),
                "total": round(finished - started, 4),
            },
        )
