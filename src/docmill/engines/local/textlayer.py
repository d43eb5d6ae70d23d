"""Text lines from a PDF page's text layer (pypdfium2), in page points, top-left origin."""

from __future__ import annotations

import unicodedata
from typing import Any

from docmill.engines.local.geometry import TextLine

_BREAKS = frozenset("\r\n")


def _line_from(chars: list[tuple[str, tuple[float, float, float, float]]]) -> TextLine | None:
    # Private-use code points are symbol-font glyphs (bullets, icons) with no meaning as text.
    text = " ".join("".join(ch for ch, _ in chars if unicodedata.category(ch) != "Co").split())
    boxes = [box for ch, box in chars if not ch.isspace() and box[2] > box[0]]
    if not text or not boxes:
        return None
    return TextLine(
        bbox=(
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        ),
        text=text,
    )


def extract_lines(page: Any) -> list[TextLine]:
    """The page's text layer as lines (a pypdfium2 `PdfPage` in, lines in content order)."""
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        _, page_height = page.get_size()
        lines: list[TextLine] = []
        current: list[tuple[str, tuple[float, float, float, float]]] = []
        top = bottom = right = 0.0
        for index in range(textpage.count_chars()):
            ch = chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, index))
            if ch in _BREAKS:
                if current and (line := _line_from(current)):
                    lines.append(line)
                current = []
                continue
            x0, y0, x1, y1 = textpage.get_charbox(index)
            box = (x0, page_height - y1, x1, page_height - y0)
            has_box = x1 > x0 and not ch.isspace()
            if has_box and current:
                middle = (box[1] + box[3]) / 2
                off_line = not top - 1 <= middle <= bottom + 1
                size = max(box[3] - box[1], bottom - top)
                # Backwards means a new line; a wide jump forwards, a new column or cell.
                if off_line or box[0] < right - size * 2 or box[0] > right + size * 3:
                    if line := _line_from(current):
                        lines.append(line)
                    current = []
            if has_box:
                if not any(not c.isspace() for c, _ in current):
                    top, bottom = box[1], box[3]
                else:
                    top, bottom = min(top, box[1]), max(bottom, box[3])
                right = box[2]
            current.append((ch, box))
        if current and (line := _line_from(current)):
            lines.append(line)
        return lines
    finally:
        textpage.close()
