"""The searchable PDF: the original pages with an invisible text layer (render mode 3)
placed word by word where the words are printed, so viewers select and find the text.

PDF pages keep everything they had; only recognised words (`Word.source == "ocr"`) that do
not lie on text the page already carries are added, as an overlay merged with pikepdf.
Images become pages (their DPI gives the page size) with the same overlay drawn on them.
The text is written by reportlab; no PDF syntax is written by hand. Blocking: run it in
a worker or a thread.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageOps
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from docmill.document import BBox, Document, Word

if TYPE_CHECKING:
    from docmill.engines.textlayer import PageFrame

LATIN_FONT = "Helvetica"  # one of the 14 standard fonts: nothing to embed
# For words outside WinAnsi (CJK, Cyrillic, ...): a CID font with a Unicode CMap.
UNICODE_FONT = "STSong-Light"
# The narrowest space written between two words, in font sizes.
MIN_SPACE_EM = 0.3
# Image pages without a usable resolution are taken at this one.
DEFAULT_DPI = 72.0


@dataclass(frozen=True)
class Affine:
    """x' = a·x + c·y + e, y' = b·x + d·y + f (reportlab's `transform` order)."""

    a: float
    b: float
    c: float
    d: float
    e: float
    f: float


def _fonts() -> None:
    if UNICODE_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(UNICODE_FONT))


def _font_for(text: str) -> str:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return UNICODE_FONT
    return LATIN_FONT


def _lines(words: Iterable[Word]) -> list[list[Word]]:
    lines: dict[int, list[Word]] = {}
    for word in words:
        lines.setdefault(word.line, []).append(word)
    return [sorted(lines[number], key=lambda w: w.bbox[0]) for number in sorted(lines)]


def draw_words(
    pdf: canvas.Canvas, words: Sequence[Word], height: float, scale: float, to_user: Affine
) -> None:
    """Invisible text for `words` on a page `height` points high as displayed: their boxes
    (top-left origin) times `scale` give points; `to_user` maps displayed bottom-left
    coordinates to the canvas. Each word is stretched over its box, a space over each gap."""
    _fonts()
    pdf.saveState()
    pdf.transform(to_user.a, to_user.b, to_user.c, to_user.d, to_user.e, to_user.f)
    text = pdf.beginText()
    text.setTextRenderMode(3)
    for line in _lines(words):
        for position, word in enumerate(line):
            x0, y0, x1, y1 = (value * scale for value in word.bbox)
            if x1 - x0 <= 0 or y1 - y0 <= 0:
                continue
            font_name = _font_for(word.text)
            face = pdfmetrics.getFont(font_name).face
            ascent, descent = face.ascent / 1000, face.descent / 1000
            size = (y1 - y0) / max(ascent - descent, 0.5)
            gap = line[position + 1].bbox[0] * scale - x1 if position + 1 < len(line) else None
            # Viewers drop spaces narrower than about a quarter em: a word whose box
            # touches the next one gives up some of its width to a readable space.
            shortfall = max(0.0, MIN_SPACE_EM * size - gap) if gap is not None else 0.0
            width = max(x1 - x0 - shortfall, 0.5 * (x1 - x0))
            natural = pdfmetrics.stringWidth(word.text, font_name, size)
            text.setFont(font_name, size)
            text.setHorizScale(100 * width / max(natural, 1e-3))
            text.setTextOrigin(x0, height - y1 - descent * size)
            text.textOut(word.text)
            if gap is not None:
                space = pdfmetrics.stringWidth(" ", font_name, size)
                text.setHorizScale(100 * (gap + x1 - x0 - width) / max(space, 1e-3))
                text.textOut(" ")
    pdf.drawText(text)
    pdf.restoreState()


def _added_words(page_words: Sequence[Word], carried: Sequence[BBox]) -> list[Word]:
    """Recognised words the page does not already carry as text."""
    from docmill.engines.local.geometry import intersection

    return [
        word
        for word in page_words
        if word.source == "ocr" and not any(intersection(word.bbox, box) > 0 for box in carried)
    ]


def _write_atomic(target: Path, write: Callable[[Path], None]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _pdf_to_user(frame: PageFrame, media: tuple[float, ...]) -> Affine:
    """The map from displayed coordinates (bottom-left origin, as drawn by reportlab) to
    the page's user space, shifted so the media box starts at 0 (the overlay's space)."""

    def forward(x: float, y: float) -> tuple[float, float]:
        dx, dy = frame.point(x, y)
        return dx, frame.height - dy

    ox, oy = forward(0.0, 0.0)
    ux, uy = forward(1.0, 0.0)
    vx, vy = forward(0.0, 1.0)
    # user → displayed is [[ux-ox, vx-ox], [uy-oy, vy-oy]] + (ox, oy); invert it.
    m00, m01, m10, m11 = ux - ox, vx - ox, uy - oy, vy - oy
    det = m00 * m11 - m01 * m10
    i00, i01, i10, i11 = m11 / det, -m01 / det, -m10 / det, m00 / det
    e = -(i00 * ox + i01 * oy) - media[0]
    f = -(i10 * ox + i11 * oy) - media[1]
    return Affine(i00, i10, i01, i11, e, f)


def _from_pdf(source: Path, document: Document, target: Path) -> None:
    import pikepdf
    import pypdfium2 as pdfium

    from docmill.engines.textlayer import PageFrame
    from docmill.engines.words import text_layer_words

    words_by_page = {page.index: page for page in document.pages}
    overlays: list[int] = []
    buffer = io.BytesIO()
    pdf_canvas: canvas.Canvas | None = None
    reader = pdfium.PdfDocument(source)
    try:
        for index in range(len(reader)):
            page_info = words_by_page.get(index)
            if page_info is None or not any(w.source == "ocr" for w in page_info.words):
                continue
            page = reader[index]
            try:
                carried = [word.bbox for word in text_layer_words(page)]
                added = _added_words(page_info.words, carried)
                if not added:
                    continue
                frame = PageFrame.of(page)
                media = tuple(float(v) for v in page.get_mediabox())
            finally:
                page.close()
            size = (media[2] - media[0], media[3] - media[1])
            if pdf_canvas is None:
                pdf_canvas = canvas.Canvas(buffer, pagesize=size, pageCompression=1)
            pdf_canvas.setPageSize(size)
            scale = frame.width / page_info.width if page_info.width else 1.0
            draw_words(pdf_canvas, added, frame.height, scale, _pdf_to_user(frame, media))
            pdf_canvas.showPage()
            overlays.append(index)
    finally:
        reader.close()

    def write(tmp: Path) -> None:
        with pikepdf.open(source) as pdf:
            if pdf_canvas is not None:
                pdf_canvas.save()
                with pikepdf.open(io.BytesIO(buffer.getvalue())) as overlay:
                    for number, index in enumerate(overlays):
                        page = pdf.pages[index]
                        page.add_overlay(overlay.pages[number], pikepdf.Rectangle(page.mediabox))
                    pdf.save(tmp)
                    return
            pdf.save(tmp)

    _write_atomic(target, write)


def _dpi(image: Image.Image) -> float:
    try:
        dpi = float(image.info.get("dpi", (DEFAULT_DPI,))[0])
    except (TypeError, ValueError, IndexError):
        return DEFAULT_DPI
    return dpi if 50 <= dpi <= 2400 else DEFAULT_DPI


def _frames(source: Path) -> Iterator[tuple[ImageReader, tuple[int, int], float]]:
    """Each frame of an image upright (EXIF applied), its size in pixels and its DPI.
    A plain JPEG is embedded as it is, without decoding it again."""
    with Image.open(source) as image:
        upright = image.getexif().get(0x0112, 1) == 1
        if image.format == "JPEG" and upright and image.mode in ("RGB", "L", "CMYK"):
            yield ImageReader(str(source)), image.size, _dpi(image)
            return
        for number in range(getattr(image, "n_frames", 1)):
            image.seek(number)
            frame = ImageOps.exif_transpose(image).convert("RGB")
            yield ImageReader(frame), frame.size, _dpi(image)


def _from_images(source: Path, document: Document, target: Path) -> None:
    pages = {page.index: page for page in document.pages}

    def write(tmp: Path) -> None:
        pdf = canvas.Canvas(str(tmp), pageCompression=1)
        for index, (frame, pixels, dpi) in enumerate(_frames(source)):
            size = (pixels[0] * 72 / dpi, pixels[1] * 72 / dpi)
            pdf.setPageSize(size)
            pdf.drawImage(frame, 0, 0, size[0], size[1])
            page = pages.get(index)
            if page is not None and page.width > 0:
                added = [word for word in page.words if word.source == "ocr"]
                draw_words(pdf, added, size[1], size[0] / page.width, Affine(1, 0, 0, 1, 0, 0))
            pdf.showPage()
        pdf.save()

    _write_atomic(target, write)


def build_searchable_pdf(source: Path, document: Document, target: Path) -> None:
    """Write the searchable PDF of `document`, whose pages are those of `source` (a PDF or
    an image file), to `target` (atomically)."""
    with source.open("rb") as handle:
        head = handle.read(1024)
    if b"%PDF-" in head:
        _from_pdf(source, document, target)
    else:
        _from_images(source, document, target)
