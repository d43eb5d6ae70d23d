"""Reading the text layer of a PDF page (pypdfium2) as lines with boxes and font sizes.

Boxes are in PDF points with the origin at the top-left corner of the page as displayed
(crop box and page rotation applied).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from docmill.document import BBox
from docmill.engines.layout_text import Line, is_cjk, union_bbox

# A page whose text layer has fewer real characters than this is treated as having none.
MIN_TEXT_CHARS = 1
# Below this share of characters with a usable Unicode mapping the text is garbage.
MIN_MAPPED_SHARE = 0.5
# A horizontal gap wider than this many font sizes ends a line segment (column gutters,
# table cells); word spaces in justified text stay well below it.
SEGMENT_GAP = 1.5
# A gap wider than this many font sizes between the advance boxes of two non-CJK glyphs is
# a word space even if the PDF has no space character there.
WORD_GAP = 0.25


@dataclass(frozen=True)
class PageFrame:
    """Maps PDF user space of one page to displayed, top-left-origin coordinates."""

    left: float
    bottom: float
    right: float
    top: float
    rotation: int  # clockwise degrees: 0, 90, 180 or 270

    @classmethod
    def of(cls, page: pdfium.PdfPage) -> PageFrame:
        left, bottom, right, top = page.get_bbox()
        return cls(left, bottom, right, top, page.get_rotation() % 360)

    @property
    def width(self) -> float:
        """Displayed page width in points."""
        span = self.right - self.left
        return span if self.rotation in (0, 180) else self.top - self.bottom

    @property
    def height(self) -> float:
        """Displayed page height in points."""
        span = self.top - self.bottom
        return span if self.rotation in (0, 180) else self.right - self.left

    def point(self, x: float, y: float) -> tuple[float, float]:
        """A user-space point in displayed, top-left-origin coordinates."""
        if self.rotation == 90:
            return y - self.bottom, x - self.left
        if self.rotation == 180:
            return self.right - x, y - self.bottom
        if self.rotation == 270:
            return self.top - y, self.right - x
        return x - self.left, self.top - y

    def box(self, left: float, bottom: float, right: float, top: float) -> BBox:
        """A user-space rectangle in displayed, top-left-origin coordinates."""
        x0, y0 = self.point(left, bottom)
        x1, y1 = self.point(right, top)
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def page_size(page: pdfium.PdfPage) -> tuple[float, float]:
    """(width, height) of the page as displayed, in points."""
    frame = PageFrame.of(page)
    return frame.width, frame.height


def _is_text_char(code: int) -> bool:
    return code > 0x20 and code not in (0xFFFD, 0xFFFE, 0xFFFF) and not 0x7F <= code <= 0x9F


def page_has_text_layer(page: pdfium.PdfPage) -> bool:
    """True when the page carries real text (not nothing, not unmapped glyph codes)."""
    textpage = page.get_textpage()
    try:
        visible = mapped = 0
        for index in range(textpage.count_chars()):
            if not _is_text_char(pdfium_c.FPDFText_GetUnicode(textpage, index)):
                continue
            visible += 1
            if not pdfium_c.FPDFText_HasUnicodeMapError(textpage, index):
                mapped += 1
        return visible >= MIN_TEXT_CHARS and mapped >= MIN_MAPPED_SHARE * visible
    finally:
        textpage.close()


def page_has_images(page: pdfium.PdfPage) -> bool:
    """True when the page holds at least one image object (e.g. a scan)."""
    return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=4))


def _font_size(textpage: pdfium.PdfTextPage, index: int) -> float:
    # FPDFText_GetFontSize is the size before the text matrix; many producers set size 1
    # (or 300) and scale with the matrix, so the matrix scale gives the size on the page.
    size = float(pdfium_c.FPDFText_GetFontSize(textpage, index))
    matrix = pdfium_c.FS_MATRIX()
    if pdfium_c.FPDFText_GetMatrix(textpage, index, matrix):
        size *= math.sqrt(abs(matrix.a * matrix.d - matrix.b * matrix.c))
    return size


@dataclass
class _LineBuilder:
    boxes: list[BBox]
    sizes: list[float]
    loose: BBox  # advance box of the last glyph (font ascent to descent, full advance)
    text: str = ""
    pending_space: bool = False

    def line(self) -> Line:
        return Line(union_bbox(self.boxes), self.text, statistics.median(self.sizes))


def _continues(builder: _LineBuilder, loose: BBox, size: float) -> bool:
    # Advance boxes, not tight glyph boxes: an apostrophe or a period has a tight box that
    # does not overlap the letters next to it, but all share the font's ascent and descent.
    last = builder.loose
    if loose == last:
        return True  # the parts of a ligature ("ffi") share one glyph's box
    overlap = min(last[3], loose[3]) - max(last[1], loose[1])
    height = min(last[3] - last[1], loose[3] - loose[1])
    scale = max(size, builder.sizes[-1])
    if height > 0:
        if overlap < 0.5 * height:
            return False
    elif abs(loose[3] - last[3]) > 0.5 * scale:
        return False
    gap = loose[0] - last[2]
    return -0.5 * scale <= gap <= SEGMENT_GAP * scale


def extract_page_lines(page: pdfium.PdfPage) -> list[Line]:
    """The page's text as lines (in content order), with boxes and font sizes.

    A line is cut where the text moves to another baseline or back to the left, and at gaps
    wider than `SEGMENT_GAP` font sizes (so two columns written line by line across the page
    still come out as separate lines).
    """
    frame = PageFrame.of(page)
    textpage = page.get_textpage()
    lines: list[Line] = []
    builder: _LineBuilder | None = None
    try:
        count = textpage.count_chars()
        index = 0
        while index < count:
            code = pdfium_c.FPDFText_GetUnicode(textpage, index)
            current = index
            index += 1
            if 0xD800 <= code <= 0xDBFF and index < count:
                low = pdfium_c.FPDFText_GetUnicode(textpage, index)
                if 0xDC00 <= low <= 0xDFFF:
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    index += 1
            if code == 0x02:
                # PDFium reports a hyphen at a line end as STX; keep it as a hyphen so
                # join_lines can undo the word split.
                code = 0x2D
            if code in (0x0A, 0x0D):
                # PDFium also breaks lines where a new text object starts mid-line; the
                # geometry below decides where lines really end.
                continue
            if not _is_text_char(code):
                if builder is not None and code in (0x20, 0x09, 0xA0, 0x3000):
                    builder.pending_space = True
                continue
            char = chr(code)
            box = frame.box(*textpage.get_charbox(current))
            loose = frame.box(*textpage.get_charbox(current, loose=True))
            size = _font_size(textpage, current)
            if builder is not None and not _continues(builder, loose, size):
                lines.append(builder.line())
                builder = None
            if builder is None:
                builder = _LineBuilder([box], [size], loose, char)
                continue
            gap = loose[0] - builder.loose[2]
            needs_space = builder.pending_space or (
                gap > WORD_GAP * size and not (is_cjk(char) and is_cjk(builder.text[-1]))
            )
            builder.text += (" " if needs_space else "") + char
            builder.pending_space = False
            builder.boxes.append(box)
            builder.sizes.append(size)
            builder.loose = loose
        if builder is not None:
            lines.append(builder.line())
    finally:
        textpage.close()
    return [line for line in lines if line.text.strip()]
