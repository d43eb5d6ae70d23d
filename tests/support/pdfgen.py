"""PDFs with known text, drawn with reportlab, for tests of the engines.

Every generator returns a `SamplePdf`: the PDF bytes plus the text it contains, in
reading order, so tests can compare what an engine reads with what was drawn.
Coordinates in `SamplePdf` are points with a top-left origin, like the Document's.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 72.0
BODY_FONT = "Helvetica"
TITLE_FONT = "Helvetica-Bold"
BODY_SIZE = 11.0
LEADING = 14.0
PARAGRAPH_SPACE = 10.0
TITLE_SIZE = 22.0

BBoxT = tuple[float, float, float, float]

LOREM = (
    "Reading order matters for every converted document. The engine groups lines into "
    "paragraphs and keeps the order a person would read them in. Known sentences make "
    "the result easy to check word by word."
)


@dataclass(frozen=True)
class SamplePdf:
    """A generated PDF and the text drawn on it (paragraphs in reading order)."""

    data: bytes
    pages: int = 1
    title: str = ""
    title_bbox: BBoxT | None = None
    paragraphs: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    footers: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    def write(self, path: Path) -> Path:
        """Writes the PDF to `path` and returns `path`."""
        path.write_bytes(self.data)
        return path


def _canvas(buffer: io.BytesIO, **kwargs: object) -> Canvas:
    return Canvas(buffer, pagesize=A4, pageCompression=0, **kwargs)  # type: ignore[arg-type]


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if pdfmetrics.stringWidth(candidate, font, size) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def _draw_title(canvas: Canvas, title: str, top: float) -> BBoxT:
    """Draws `title` with its baseline `top + TITLE_SIZE` from the page top; its box."""
    baseline = top + TITLE_SIZE
    canvas.setFont(TITLE_FONT, TITLE_SIZE)
    canvas.drawString(MARGIN, PAGE_HEIGHT - baseline, title)
    width = pdfmetrics.stringWidth(title, TITLE_FONT, TITLE_SIZE)
    return (MARGIN, baseline - 0.75 * TITLE_SIZE, MARGIN + width, baseline)


def _draw_lines(canvas: Canvas, lines: Sequence[str], x: float, top: float) -> float:
    """Draws body lines from `top` (points from the page top); the y below the last one."""
    canvas.setFont(BODY_FONT, BODY_SIZE)
    y = top
    for line in lines:
        y += LEADING
        canvas.drawString(x, PAGE_HEIGHT - y, line)
    return y


def single_column_pdf() -> SamplePdf:
    """One page: a title and three wrapped paragraphs."""
    title = "Annual Report on Document Conversion"
    paragraphs = (
        "The first paragraph introduces the report. " + LOREM,
        "The second paragraph describes the method. " + LOREM,
        "The third paragraph states the conclusion. " + LOREM,
    )
    buffer = io.BytesIO()
    canvas = _canvas(buffer)
    title_bbox = _draw_title(canvas, title, 80.0)
    y = title_bbox[3] + 20.0
    for paragraph in paragraphs:
        lines = _wrap(paragraph, BODY_FONT, BODY_SIZE, PAGE_WIDTH - 2 * MARGIN)
        y = _draw_lines(canvas, lines, MARGIN, y) + PARAGRAPH_SPACE
    canvas.showPage()
    canvas.save()
    return SamplePdf(buffer.getvalue(), title=title, title_bbox=title_bbox, paragraphs=paragraphs)


def two_column_pdf() -> SamplePdf:
    """One page: a full-width title over two columns of two paragraphs each.

    The lines are written row by row across both columns (left line, right line, ...),
    so content order differs from reading order on purpose.
    """
    title = "Two Column Layout"
    left = (
        "Alpha paragraph opens the left column. " + LOREM,
        "Bravo paragraph closes the left column. " + LOREM,
    )
    right = (
        "Charlie paragraph opens the right column. " + LOREM,
        "Delta paragraph closes the right column. " + LOREM,
    )
    gutter = 24.0
    column_width = (PAGE_WIDTH - 2 * MARGIN - gutter) / 2
    buffer = io.BytesIO()
    canvas = _canvas(buffer)
    title_bbox = _draw_title(canvas, title, 80.0)
    top = title_bbox[3] + 20.0

    def column_rows(paragraphs: Sequence[str]) -> list[str | None]:
        rows: list[str | None] = []
        for paragraph in paragraphs:
            rows.extend(_wrap(paragraph, BODY_FONT, BODY_SIZE, column_width))
            rows.append(None)  # paragraph space, one empty row
        return rows

    left_rows, right_rows = column_rows(left), column_rows(right)
    canvas.setFont(BODY_FONT, BODY_SIZE)
    for row in range(max(len(left_rows), len(right_rows))):
        y = top + (row + 1) * LEADING
        for rows, x in ((left_rows, MARGIN), (right_rows, MARGIN + column_width + gutter)):
            if row < len(rows) and rows[row] is not None:
                canvas.drawString(x, PAGE_HEIGHT - y, rows[row] or "")
    canvas.showPage()
    canvas.save()
    return SamplePdf(
        buffer.getvalue(), title=title, title_bbox=title_bbox, paragraphs=(*left, *right)
    )


def header_footer_pdf(pages: int = 3) -> SamplePdf:
    """`pages` pages, each with a running header, a body paragraph and "Page n of N"."""
    header = "ACME Corporation Quarterly Notes"
    paragraphs = tuple(f"Body text of page number {n}. {LOREM}" for n in range(1, pages + 1))
    footers = tuple(f"Page {n} of {pages}" for n in range(1, pages + 1))
    buffer = io.BytesIO()
    canvas = _canvas(buffer)
    for paragraph, footer in zip(paragraphs, footers, strict=True):
        canvas.setFont(BODY_FONT, 9)
        canvas.drawString(MARGIN, PAGE_HEIGHT - 40, header)
        lines = _wrap(paragraph, BODY_FONT, BODY_SIZE, PAGE_WIDTH - 2 * MARGIN)
        _draw_lines(canvas, lines, MARGIN, 120.0)
        canvas.setFont(BODY_FONT, 9)
        canvas.drawCentredString(PAGE_WIDTH / 2, 40, footer)
        canvas.showPage()
    canvas.save()
    return SamplePdf(
        buffer.getvalue(),
        pages=pages,
        paragraphs=paragraphs,
        headers=(header,) * pages,
        footers=footers,
    )


def hyphenated_pdf() -> SamplePdf:
    """One page: a paragraph whose lines end in words split with a hyphen."""
    lines = (
        "The committee will carefully exam-",
        "ine the proposal before the meet-",
        "ing and report its findings to the",
        "board in writing.",
    )
    expected = (
        "The committee will carefully examine the proposal before the meeting and report "
        "its findings to the board in writing."
    )
    buffer = io.BytesIO()
    canvas = _canvas(buffer)
    _draw_lines(canvas, lines, MARGIN, 100.0)
    canvas.showPage()
    canvas.save()
    return SamplePdf(buffer.getvalue(), paragraphs=(expected,))


@cache
def find_cjk_font() -> Path | None:
    """A TrueType font file with Chinese glyphs (from fontconfig), or None if there is none."""
    try:
        listing = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    files = sorted(line.split(":")[0].strip() for line in listing.splitlines() if line.strip())
    for name in files:
        if name.lower().endswith((".ttf", ".ttc")):
            return Path(name)
    return None


def cjk_pdf(font_path: Path) -> SamplePdf:
    """One page: a Chinese paragraph wrapped over several lines, and an English one."""
    pdfmetrics.registerFont(TTFont("DocmillCJK", str(font_path), subfontIndex=0))
    chinese = (
        "在完美资本市场中，尽管企业因杠杆而引起违约风险，但莫迪利安尼米勒定理仍然成立。"
        "破产只是导致控制权从股东转移到债权人而已，公司的总价值并不因此而改变。"
    )
    english = "Mixed documents keep their English sentences intact."
    per_line = 20
    rows = [chinese[i : i + per_line] for i in range(0, len(chinese), per_line)]
    buffer = io.BytesIO()
    canvas = _canvas(buffer)
    canvas.setFont("DocmillCJK", BODY_SIZE)
    y = 100.0
    for row in rows:
        y += LEADING
        canvas.drawString(MARGIN, PAGE_HEIGHT - y, row)
    _draw_lines(canvas, [english], MARGIN, y + PARAGRAPH_SPACE + 4)
    canvas.showPage()
    canvas.save()
    return SamplePdf(buffer.getvalue(), paragraphs=(chinese, english))


def scanned_pdf(pages: int = 1) -> SamplePdf:
    """`pages` pages holding only a picture of text (no text layer), like a scan."""
    picture = Image.new("L", (400, 200), 255)
    ImageDraw.Draw(picture).text((20, 80), "This page is only a picture", fill=0)
    buffer = io.BytesIO()
    canvas = _canvas(buffer)
    for _ in range(pages):
        canvas.drawImage(ImageReader(picture), MARGIN, PAGE_HEIGHT - 400, width=400, height=200)
        canvas.showPage()
    canvas.save()
    return SamplePdf(buffer.getvalue(), pages=pages)


def mixed_pdf() -> SamplePdf:
    """Two pages: page 1 has a text layer, page 2 is only a picture."""
    picture = Image.new("L", (200, 100), 255)
    buffer = io.BytesIO()
    canvas = _canvas(buffer)
    _draw_lines(canvas, ["A page with real text on it."], MARGIN, 100.0)
    canvas.showPage()
    canvas.drawImage(ImageReader(picture), MARGIN, PAGE_HEIGHT - 300, width=200, height=100)
    canvas.showPage()
    canvas.save()
    return SamplePdf(buffer.getvalue(), pages=2, paragraphs=("A page with real text on it.",))


def blank_pdf() -> SamplePdf:
    """One empty page."""
    buffer = io.BytesIO()
    canvas = _canvas(buffer)
    canvas.showPage()
    canvas.save()
    return SamplePdf(buffer.getvalue())


def encrypted_pdf(password: str = "secret") -> SamplePdf:
    """One page of text, encrypted with a user password."""
    buffer = io.BytesIO()
    canvas = _canvas(buffer, encrypt=password)
    _draw_lines(canvas, ["Locked text."], MARGIN, 100.0)
    canvas.showPage()
    canvas.save()
    return SamplePdf(buffer.getvalue(), paragraphs=("Locked text.",))


def png_bytes() -> bytes:
    """A small PNG image."""
    buffer = io.BytesIO()
    Image.new("RGB", (32, 16), (255, 255, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


def split_objects_pdf() -> SamplePdf:
    """One line drawn as three text objects ("one", "’", "s ..."); it must stay one line."""
    pieces = ("Claims in one", "\u2019", "s self-interest are credible.")
    buffer = io.BytesIO()
    canvas = _canvas(buffer)
    x = MARGIN
    for piece in pieces:
        text = canvas.beginText(x, PAGE_HEIGHT - 120)
        text.setFont(BODY_FONT, BODY_SIZE)
        text.textOut(piece)
        canvas.drawText(text)
        x += pdfmetrics.stringWidth(piece, BODY_FONT, BODY_SIZE)
    canvas.showPage()
    canvas.save()
    return SamplePdf(buffer.getvalue(), paragraphs=("".join(pieces),))
