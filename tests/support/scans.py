"""Generated pages with known text for the local engine: born-digital PDFs (reportlab),
the same pages rasterized as scans, a slightly rotated photo-like image, two columns,
a ruled table, a figure with a caption, and a Chinese page.

Every generator writes a file and returns its path with the text a reader should find.
"""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from reportlab.lib.pagesizes import A6, landscape
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from tests.support.pdfgen import find_cjk_font

ENGLISH_LINES = [
    "The quick brown fox jumps over the lazy dog.",
    "Reading scanned pages offline needs a good",
    "text detector and a small recognizer model.",
    "Invoices, letters and reports are common.",
    "Numbers such as 2048 and 3.14 must survive.",
]
LEFT_COLUMN = [
    "Alpha begins the left",
    "column of this page and",
    "continues downward here.",
    "",
    "Bravo is the second left",
    "paragraph in the column.",
]
TWO_COLUMN_TITLE = "Two Columns Read In Order"
RIGHT_COLUMN = [
    "Charlie starts the right",
    "column after the left one",
    "has been read completely.",
    "",
    "Delta closes the right",
    "column and the page too.",
]
TABLE_ROWS = [
    ["Item", "Count", "Price"],
    ["Apple", "12", "3.50"],
    ["Pear", "7", "2.25"],
    ["Plum", "30", "9.00"],
]
CHINESE_LINES = [
    "文档转换服务可以离线运行。",
    "扫描的页面需要文字识别。",
    "表格和图片也要保留下来。",
]
HEADER_TEXT = "Quarterly Report Header"
FOOTER_TEXT = "- 1 -"


@dataclass(frozen=True)
class Sample:
    path: Path
    text: str  # the body text a reader should find, lines joined by newlines


def _register_cjk() -> str:
    font = find_cjk_font()
    if font is None:
        raise FileNotFoundError("no CJK font installed (fonts-wqy-microhei or fonts-noto-cjk)")
    if "DocmillCJK" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DocmillCJK", str(font), subfontIndex=0))
    return "DocmillCJK"


def _draw_lines(pdf: canvas.Canvas, lines: list[str], x: float, top: float, step: float) -> None:
    """Lines one under another from baseline `top`; an empty string leaves a gap."""
    for number, line in enumerate(lines):
        if line:
            pdf.drawString(x, top - number * step, line)


def english_pdf(path: Path, with_furniture: bool = True) -> Sample:
    """An A6 born-digital page: a title, a paragraph, and a header and footer."""
    width, height = A6
    pdf = canvas.Canvas(str(path), pagesize=A6)
    if with_furniture:
        pdf.setFont("Helvetica", 7)
        pdf.drawString(20, height - 18, HEADER_TEXT)
        pdf.drawCentredString(width / 2, 14, FOOTER_TEXT)
    pdf.setFont("Helvetica-Bold", 14)
    pdf.drawString(20, height - 50, "Offline Reading")
    pdf.setFont("Helvetica", 10)
    _draw_lines(pdf, ENGLISH_LINES, 20, height - 75, 14)
    pdf.showPage()
    pdf.save()
    return Sample(path, "\n".join(["Offline Reading", *ENGLISH_LINES]))


def two_column_pdf(path: Path) -> Sample:
    """A landscape A6 page: a title across the page over two columns of paragraphs whose
    gaps line up (the case that trips a naive XY cut)."""
    pagesize = landscape(A6)
    pdf = canvas.Canvas(str(path), pagesize=pagesize)
    width, height = pagesize
    pdf.setFont("Helvetica-Bold", 13)
    pdf.drawString(20, height - 32, TWO_COLUMN_TITLE)
    pdf.setFont("Helvetica", 10)
    for x, lines in ((20, LEFT_COLUMN), (width / 2 + 10, RIGHT_COLUMN)):
        _draw_lines(pdf, lines, x, height - 58, 13)
    pdf.showPage()
    pdf.save()
    body = [line for line in LEFT_COLUMN + RIGHT_COLUMN if line]
    return Sample(path, "\n".join([TWO_COLUMN_TITLE, *body]))


def table_pdf(path: Path) -> Sample:
    """An A6 page with a sentence and a ruled 4x3 table."""
    _width, height = A6
    pdf = canvas.Canvas(str(path), pagesize=A6)
    pdf.setFont("Helvetica", 10)
    pdf.drawString(20, height - 40, "Stock of fruit in the shop:")
    cell_w, cell_h = 70, 20
    left, top = 25, height - 70
    for r, row in enumerate(TABLE_ROWS):
        for c, value in enumerate(row):
            pdf.drawString(left + c * cell_w + 6, top - (r + 1) * cell_h + 6, value)
    pdf.setLineWidth(1)
    for r in range(len(TABLE_ROWS) + 1):
        pdf.line(left, top - r * cell_h, left + 3 * cell_w, top - r * cell_h)
    for c in range(4):
        pdf.line(left + c * cell_w, top, left + c * cell_w, top - len(TABLE_ROWS) * cell_h)
    pdf.showPage()
    pdf.save()
    cells = "\n".join(" ".join(row) for row in TABLE_ROWS)
    return Sample(path, "Stock of fruit in the shop:\n" + cells)


def figure_pdf(path: Path) -> Sample:
    """An A6 page with a paragraph, a bar chart drawn as a picture and its caption."""
    _width, height = A6
    chart = Image.new("RGB", (400, 260), "white")
    draw = ImageDraw.Draw(chart)
    draw.line((30, 230, 380, 230), fill="black", width=3)
    draw.line((30, 20, 30, 230), fill="black", width=3)
    for i, (bar, color) in enumerate(
        zip((150, 90, 200, 60), ("#c33", "#3a3", "#36c", "#ca3"), strict=True)
    ):
        draw.rectangle((60 + i * 80, 230 - bar, 110 + i * 80, 230), fill=color)
    buffer = io.BytesIO()
    chart.save(buffer, format="PNG")
    pdf = canvas.Canvas(str(path), pagesize=A6)
    pdf.setFont("Helvetica", 10)
    pdf.drawString(20, height - 40, "Sales grew in every region this year.")
    pdf.drawImage(ImageReader(io.BytesIO(buffer.getvalue())), 40, height - 230, 200, 130)
    pdf.setFont("Helvetica", 9)
    pdf.drawString(60, height - 248, "Figure 1: Sales by region")
    pdf.showPage()
    pdf.save()
    return Sample(path, "Sales grew in every region this year.\nFigure 1: Sales by region")


PASTED_LINES = [
    "This paragraph was pasted in",
    "as a picture, so the page text",
    "layer does not contain it.",
]


def pasted_scan_pdf(path: Path) -> Sample:
    """An A6 born-digital page with a real sentence above a picture of a paragraph."""
    _, height = A6
    scale = 200 / 72  # the picture is drawn at 200 dpi
    picture = Image.new("RGB", (round(250 * scale), round(60 * scale)), "white")
    draw = ImageDraw.Draw(picture)
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.truetype(
            "DejaVuSans.ttf", round(10 * scale)
        )
    except OSError:  # no DejaVu: Pillow's built-in scalable font
        font = ImageFont.load_default(size=round(10 * scale))
    for i, line in enumerate(PASTED_LINES):
        draw.text((4, 4 + i * 16 * scale), line, fill="black", font=font)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    pdf = canvas.Canvas(str(path), pagesize=A6)
    pdf.setFont("Helvetica", 10)
    pdf.drawString(20, height - 40, "The text layer holds this sentence.")
    pdf.drawImage(ImageReader(io.BytesIO(buffer.getvalue())), 20, height - 120, 250, 60)
    pdf.showPage()
    pdf.save()
    return Sample(path, "\n".join(["The text layer holds this sentence.", *PASTED_LINES]))


def chinese_pdf(path: Path) -> Sample:
    """An A6 page of Chinese text in a CJK font. Raises FileNotFoundError without one."""
    font = _register_cjk()
    _width, height = A6
    pdf = canvas.Canvas(str(path), pagesize=A6)
    pdf.setFont(font, 12)
    _draw_lines(pdf, CHINESE_LINES, 20, height - 50, 22)
    pdf.showPage()
    pdf.save()
    return Sample(path, "\n".join(CHINESE_LINES))


def rasterize(pdf_path: Path, dpi: int) -> Image.Image:
    """The first page of `pdf_path` as an RGB image at `dpi`."""
    document = pdfium.PdfDocument(str(pdf_path))
    try:
        return document[0].render(scale=dpi / 72).to_pil().convert("RGB")
    finally:
        document.close()


def scanned_pdf(source: Sample, path: Path, dpi: int) -> Sample:
    """The sample's page as an image-only PDF (no text layer), like a scanner makes."""
    rasterize(source.path, dpi).save(path, format="PDF", resolution=float(dpi))
    return Sample(path, source.text)


def photo_png(source: Sample, path: Path, angle: float = 1.5, dpi: int = 200) -> Sample:
    """The sample's page at `dpi`, rotated by `angle` degrees, greyed, blurred and noisy."""
    image = rasterize(source.path, dpi).rotate(angle, expand=True, fillcolor=(235, 232, 225))
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    rng = random.Random(7)
    pixels = image.load()
    assert pixels is not None
    for _ in range(image.width * image.height // 50):
        x, y = rng.randrange(image.width), rng.randrange(image.height)
        shade = rng.randrange(150, 255)
        pixels[x, y] = (shade, shade, shade)
    image.save(path, format="PNG")
    return Sample(path, source.text)


def exif_rotated_jpeg(source: Sample, path: Path, dpi: int = 150) -> Sample:
    """The page stored turned on its side, with EXIF orientation 6 saying how to turn it back."""
    image = rasterize(source.path, dpi).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    image.save(path, format="JPEG", quality=92, exif=exif)
    return Sample(path, source.text)


def multipage_tiff(samples: list[Sample], path: Path, dpi: int = 150) -> Sample:
    """The samples' first pages as one multi-page TIFF."""
    frames = [rasterize(sample.path, dpi) for sample in samples]
    frames[0].save(path, format="TIFF", save_all=True, append_images=frames[1:])
    return Sample(path, "\n".join(sample.text for sample in samples))


def generate_cases(folder: Path) -> dict[str, Sample]:
    """Every generated case written into `folder`, by name (the Chinese one only when a
    CJK font is installed)."""
    english = english_pdf(folder / "english.pdf")
    two_columns = two_column_pdf(folder / "two_columns.pdf")
    table = table_pdf(folder / "table.pdf")
    cases = {
        "born_digital": english,
        "scan_150": scanned_pdf(english, folder / "scan_150.pdf", 150),
        "scan_300": scanned_pdf(english, folder / "scan_300.pdf", 300),
        "photo": photo_png(english, folder / "photo.png"),
        "exif_jpeg": exif_rotated_jpeg(english, folder / "exif.jpg"),
        "two_columns": two_columns,
        "two_columns_scan": scanned_pdf(two_columns, folder / "two_columns_scan.pdf", 200),
        "table": table,
        "table_scan": scanned_pdf(table, folder / "table_scan.pdf", 200),
        "figure": figure_pdf(folder / "figure.pdf"),
        "pasted_scan": pasted_scan_pdf(folder / "pasted_scan.pdf"),
    }
    if find_cjk_font() is not None:
        chinese = chinese_pdf(folder / "chinese.pdf")
        cases["chinese_scan"] = scanned_pdf(chinese, folder / "chinese_scan.pdf", 200)
    return cases


def levenshtein(a: str, b: str) -> int:
    """Edit distance between two strings (insertions, deletions, substitutions)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


_SPACE_BY_CJK = re.compile(r" (?=[\u3000-\u9fff\uff00-\uffef])|(?<=[\u3000-\u9fff\uff00-\uffef]) ")


def normalize(text: str) -> str:
    """Text compared for CER: runs of whitespace as one space, none next to CJK characters
    (where spacing carries no meaning)."""
    return _SPACE_BY_CJK.sub("", " ".join(text.split()))


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of `hypothesis` against `reference` (0 is perfect)."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    return levenshtein(ref, hyp) / max(len(ref), 1)
