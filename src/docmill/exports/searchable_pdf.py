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
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from PIL import Image, ImageOps
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from docmill.document import BBox, Document, Word
from docmill.engines.layout_text import is_cjk

LATIN_FONT = "Helvetica"  # one of the 14 standard fonts: nothing to embed
# For words outside WinAnsi (CJK, Cyrillic, ...): a CID font with a Unicode CMap.
UNICODE_FONT = "STSong-Light"
# The narrowest space written between two words, in font sizes.
MIN_SPACE_EM = 0.3
# Image pages without a usable resolution are taken at this one.
DEFAULT_DPI = 72.0


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


def draw_words(pdf: canvas.Canvas, words: Sequence[Word], height: float, scale: float) -> None:
    """Invisible text for `words` on a canvas page `height` points high: their boxes
    (top-left origin) times `scale` give points. Each word is stretched over its box, a
    space over each gap to the next word of its line."""
    _fonts()
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
            following = line[position + 1] if position + 1 < len(line) else None
            gap = following.bbox[0] * scale - x1 if following is not None else None
            if following is not None and gap is not None and _joined(word, following):
                # No space between CJK characters: the word reaches to the next one.
                x1, gap = max(x1, following.bbox[0] * scale), None
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


def _joined(word: Word, following: Word) -> bool:
    """Whether two neighbouring words are written without a space (CJK text)."""
    return is_cjk(word.text[-1]) and is_cjk(following.text[0])


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


def _from_pdf(source: Path, document: Document, target: Path) -> None:
    import pikepdf
    import pypdfium2 as pdfium

    from docmill.engines.textlayer import PageFrame
    from docmill.engines.words import text_layer_words

    words_by_page = {page.index: page for page in document.pages}
    overlays: list[tuple[int, tuple[float, ...]]] = []
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
                shown = tuple(float(v) for v in page.get_bbox())
            finally:
                page.close()
            # The overlay is drawn upright, the size of the page as displayed; qpdf places
            # it over the shown box, turned with the page's /Rotate.
            size = (frame.width, frame.height)
            if pdf_canvas is None:
                pdf_canvas = canvas.Canvas(buffer, pagesize=size, pageCompression=1)
            pdf_canvas.setPageSize(size)
            scale = frame.width / page_info.width if page_info.width else 1.0
            draw_words(pdf_canvas, added, frame.height, scale)
            pdf_canvas.showPage()
            overlays.append((index, shown))
    finally:
        reader.close()

    def write(tmp: Path) -> None:
        if pdf_canvas is None:
            # Nothing to add (born-digital pages, no OCR): the original itself.
            try:
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)
            return
        pdf_canvas.save()
        with pikepdf.open(source) as pdf, pikepdf.open(io.BytesIO(buffer.getvalue())) as overlay:
            for number, (index, shown) in enumerate(overlays):
                pdf.pages[index].add_overlay(overlay.pages[number], pikepdf.Rectangle(*shown))
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
                draw_words(pdf, added, size[1], size[0] / page.width)
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
