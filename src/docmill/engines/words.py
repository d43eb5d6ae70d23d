"""Word boxes: the words of a page with where they are printed (`Page.words`).

From OCR: RapidOCR's per-word boxes of each recognised line (`return_word_box`), put in the
page's reading order. From a PDF text layer: pypdfium2's character boxes, grouped into
words at spaces and into lines where the text moves to another line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from docmill.document import BBox, Word
from docmill.engines.layout_text import union_bbox

# Characters that end a word (PDFium reports a line-end hyphen as STX).
_SPACES = frozenset({0x20, 0x09, 0xA0, 0x3000, 0x0A, 0x0D, 0x02})


def quad_box(quad: Sequence[Sequence[float]], scale: float) -> BBox:
    """The upright box around a quadrilateral in pixels, in points (`scale` px per pt)."""
    xs = [float(point[0]) for point in quad]
    ys = [float(point[1]) for point in quad]
    return (min(xs) / scale, min(ys) / scale, max(xs) / scale, max(ys) / scale)


def ocr_line_words(word_results: Any, scale: float) -> tuple[Word, ...]:
    """The words RapidOCR gives for one line (`(text, score, quad)` triples, quad in
    pixels), in points. Words without a box are left out."""
    words: list[Word] = []
    for item in word_results or ():
        try:
            text, score, quad = item
        except (TypeError, ValueError):
            continue
        text = str(text).strip()
        if not text or quad is None or len(quad) < 2:
            continue
        words.append(Word(text=text, bbox=quad_box(quad, scale), confidence=float(score)))
    return tuple(words)


def shifted(words: Sequence[Word], dx: float, dy: float) -> tuple[Word, ...]:
    """The words moved by (dx, dy) points (OCR of a crop placed back on its page)."""
    return tuple(
        word.model_copy(
            update={
                "bbox": (word.bbox[0] + dx, word.bbox[1] + dy, word.bbox[2] + dx, word.bbox[3] + dy)
            }
        )
        for word in words
    )


def _center_in(box: BBox, region: BBox) -> bool:
    x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= x <= region[2] and region[1] <= y <= region[3]


def in_reading_order(
    lines: Sequence[tuple[BBox, Sequence[Word]]], blocks: Sequence[BBox]
) -> list[Word]:
    """Words of the page's lines, line by line in the order of the blocks that hold them
    (`blocks` in reading order); lines outside every block follow, top to bottom. Each
    word gets its line's number."""
    remaining = list(lines)
    ordered: list[tuple[BBox, Sequence[Word]]] = []
    for block in blocks:
        inside = [line for line in remaining if _center_in(line[0], block)]
        inside.sort(key=lambda line: (line[0][1], line[0][0]))
        ordered.extend(inside)
        remaining = [line for line in remaining if not any(line is kept for kept in inside)]
    ordered.extend(sorted(remaining, key=lambda line: (line[0][1], line[0][0])))
    words: list[Word] = []
    for number, (_, line_words) in enumerate(ordered):
        words.extend(
            word.model_copy(update={"line": number})
            for word in sorted(line_words, key=lambda w: w.bbox[0])
        )
    return words


def _new_line(previous: BBox, box: BBox) -> bool:
    """A character whose vertical middle lies off the previous one's line, or that starts
    well left of it, begins a new line."""
    middle = (box[1] + box[3]) / 2
    height = max(previous[3] - previous[1], box[3] - box[1], 1e-3)
    return not previous[1] - 0.2 * height <= middle <= previous[3] + 0.2 * height or (
        box[0] < previous[0] - height
    )


def text_layer_words(page: pdfium.PdfPage) -> list[Word]:
    """The words of a PDF page's own text, in content order, in displayed top-left points."""
    from docmill.engines.textlayer import PageFrame

    frame = PageFrame.of(page)
    textpage = page.get_textpage()
    words: list[Word] = []
    boxes: list[BBox] = []
    chars: list[str] = []
    line = 0
    last: BBox | None = None

    def finish() -> None:
        if chars:
            text = "".join(chars)
            words.append(Word(text=text, bbox=union_bbox(boxes), line=line, source="text_layer"))
        chars.clear()
        boxes.clear()

    try:
        for index in range(textpage.count_chars()):
            code = pdfium_c.FPDFText_GetUnicode(textpage, index)
            if code in _SPACES or code < 0x20 or 0xDC00 <= code <= 0xDFFF:
                finish()
                continue
            if 0xD800 <= code <= 0xDBFF:
                low = pdfium_c.FPDFText_GetUnicode(textpage, index + 1)
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            box = frame.box(*textpage.get_charbox(index))
            if last is not None and _new_line(last, box):
                finish()
                line += 1
            chars.append(chr(code))
            boxes.append(box)
            last = box
        finish()
    finally:
        textpage.close()
    return words
