"""Generated Office documents with known text, a table and a picture (python-docx,
python-pptx, openpyxl), hostile packages (a zip bomb, a ZIP that is no document, an
encrypted and a macro-enabled one), and stand-in `soffice` programs that record calls.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import stat
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw

TITLE = "Quarterly Office Report"
PARAGRAPH = "Revenue grew in every region during the third quarter."
TABLE = [["Region", "Units", "Price"], ["North", "120", "4.50"], ["South", "75", "3.25"]]
SLIDE_TITLE = "Launch Plan Overview"
SHEET_NOTE = "Inventory of the main warehouse"


def chart_png() -> bytes:
    """A small bar chart (a picture with no text in it)."""
    image = Image.new("RGB", (480, 300), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 470, 290), outline="black", width=3)
    for i, (height, color) in enumerate(
        zip((200, 120, 240, 90), ("#c33", "#3a3", "#36c", "#ca3"), strict=True)
    ):
        draw.rectangle((50 + i * 100, 280 - height, 120 + i * 100, 280), fill=color)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def docx_bytes() -> bytes:
    from docx import Document
    from docx.shared import Inches

    document = Document()
    document.add_heading(TITLE, level=1)
    document.add_paragraph(PARAGRAPH)
    table = document.add_table(rows=len(TABLE), cols=len(TABLE[0]))
    table.style = "Table Grid"
    for r, row in enumerate(TABLE):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("")
    document.add_picture(io.BytesIO(chart_png()), width=Inches(3.5))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _rule_cell(cell: object) -> None:
    """Black 1 pt borders on all four sides of a python-pptx table cell."""
    from pptx.oxml.xmlchemy import OxmlElement

    properties = cell._tc.get_or_add_tcPr()  # type: ignore[attr-defined]
    # The schema wants the lines first, before the cell's fill.
    for position, side in enumerate(("a:lnL", "a:lnR", "a:lnT", "a:lnB")):
        line = OxmlElement(side)
        line.set("w", "12700")
        fill = OxmlElement("a:solidFill")
        color = OxmlElement("a:srgbClr")
        color.set("val", "000000")
        fill.append(color)
        line.append(fill)
        properties.insert(position, line)


def pptx_bytes() -> bytes:
    from pptx import Presentation
    from pptx.dml.color import RGBColor
    from pptx.util import Inches, Pt

    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])  # title only
    slide.shapes.title.text = SLIDE_TITLE
    box = slide.shapes.add_textbox(Inches(0.5), Inches(1.6), Inches(9), Inches(0.6))
    box.text_frame.text = PARAGRAPH
    box.text_frame.paragraphs[0].runs[0].font.size = Pt(18)
    shape = slide.shapes.add_table(
        len(TABLE), len(TABLE[0]), Inches(0.5), Inches(2.4), Inches(9), Inches(1.5)
    )
    shape.table.first_row = shape.table.horz_banding = False
    for r, row in enumerate(TABLE):
        for c, value in enumerate(row):
            cell = shape.table.cell(r, c)
            cell.text = value
            cell.fill.background()  # a plain ruled table, as printed
            cell.text_frame.paragraphs[0].runs[0].font.color.rgb = RGBColor(0, 0, 0)
            _rule_cell(cell)
    slide.shapes.add_picture(io.BytesIO(chart_png()), Inches(3), Inches(4.6), height=Inches(2.6))
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def xlsx_bytes() -> bytes:
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image as SheetImage
    from openpyxl.styles import Border, Side

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Stock"
    sheet["A1"] = SHEET_NOTE
    thin = Side(style="thin")
    for r, row in enumerate(TABLE, start=3):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=c, value=value)
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for column in "ABC":
        sheet.column_dimensions[column].width = 16
    picture = SheetImage(io.BytesIO(chart_png()))
    sheet.add_image(picture, "A9")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_bomb_docx() -> bytes:
    """A real DOCX with one more part that unpacks to 600 MB from about 600 KB."""
    buffer = io.BytesIO(docx_bytes())
    with (
        zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as package,
        package.open("word/media/padding.bin", "w", force_zip64=True) as part,
    ):
        block = b"\0" * (1024 * 1024)
        for _ in range(600):
            part.write(block)
    return buffer.getvalue()


def random_zip() -> bytes:
    """A ZIP of random files, as if a .docx name were put on any archive."""
    rng = random.Random(16)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for number in range(3):
            archive.writestr(f"data/file{number}.bin", rng.randbytes(2048))
        archive.writestr("readme.txt", "not a document")
    return buffer.getvalue()


def encrypted_docx() -> bytes:
    """The generated DOCX encrypted with a password (an OLE2 EncryptedPackage)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    source = io.BytesIO(docx_bytes())
    target = io.BytesIO()
    OOXMLFile(source).encrypt("secret", target)
    return target.getvalue()


def macro_docm() -> bytes:
    """The DOCX relabelled as macro-enabled, with a (dummy) VBA project part."""
    source = zipfile.ZipFile(io.BytesIO(docx_bytes()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument"
                    b".wordprocessingml.document.main+xml",
                    b"application/vnd.ms-word.document.macroEnabled.main+xml",
                )
            target.writestr(info, data)
        target.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0 not really VBA")
    return buffer.getvalue()


def recording_soffice(folder: Path, *, sleep_s: float | None = None) -> tuple[Path, Path]:
    """A stand-in `soffice` that appends each call to a log and then runs the real
    LibreOffice (or, with `sleep_s`, just sleeps, like a hung conversion). Returns
    (program, log)."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "soffice-calls.log"
    program = folder / "soffice"
    real = shutil.which("soffice") or "soffice"
    action = f"exec sleep {sleep_s}" if sleep_s is not None else f'exec "{real}" "$@"'
    program.write_text(f'#!/bin/sh\necho "$$ $*" >> "{log}"\n{action}\n')
    program.chmod(program.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return program, log


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def libreoffice_installed() -> bool:
    return shutil.which("soffice") is not None and os.access(shutil.which("soffice") or "", os.X_OK)
