"""Documents with known text, generated for tests."""

from __future__ import annotations

import io
from pathlib import Path

from reportlab.lib.pagesizes import A5
from reportlab.pdfgen import canvas


def text_pdf(pages: list[list[str]], *, title: str | None = None) -> bytes:
    """A born-digital PDF: an optional title on page 1, then each page's lines."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A5)
    height = A5[1]
    for number, lines in enumerate(pages):
        y = height - 60
        if title and number == 0:
            pdf.setFont("Helvetica-Bold", 18)
            pdf.drawString(40, y, title)
            y -= 36
        pdf.setFont("Helvetica", 11)
        for line in lines:
            pdf.drawString(40, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
