"""Layout of text lines: reading order, paragraphs and joining of wrapped lines.

Generic over "lines with bounding boxes" (top-left origin, points), so the PDF text layer
and OCR output go through the same code.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from docmill.document import BBox

T = TypeVar("T")


@dataclass(frozen=True)
class Line:
    """One line of text on a page.

    `size` is the font size in points (for OCR output: the height of the text line).
    """

    bbox: BBox
    text: str
    size: float


# Unicode ranges written without spaces between characters (Han, kana, Hangul syllables are
# spaced in Korean, but a line break inside a Korean word must not add one either) and the
# full-width punctuation used with them.
_CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x31FF),  # Bopomofo, Hangul compatibility Jamo, Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFFEF),  # half-width and full-width forms
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)


def is_cjk(char: str) -> bool:
    """True for a CJK ideograph, kana, Hangul or full-width punctuation character."""
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


_HYPHENATED_END = re.compile(r"[^\W_]-$")


def join_lines(texts: Sequence[str]) -> str:
    """The text of wrapped lines joined into one paragraph.

    A word hyphenated at a line end is joined back ("exam-" + "ple" -> "example"; before
    anything but a lowercase letter the hyphen stays: "Anglo-Saxon"); no space goes
    between two CJK characters; other lines are joined with one space.
    """
    result = ""
    for raw in texts:
        text = " ".join(raw.split())
        if not text:
            continue
        if not result:
            result = text
        elif _HYPHENATED_END.search(result):
            # "exam-" + "ple" is one word split in two; "Anglo-" + "Saxon" keeps its hyphen.
            result = (result[:-1] if text[0].islower() else result) + text
        elif is_cjk(result[-1]) and is_cjk(text[0]):
            result += text
        else:
            result += " " + text
    return result


def union_bbox(boxes: Sequence[BBox]) -> BBox:
    """The smallest box holding all `boxes` (which must not be empty)."""
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _spans(intervals: list[tuple[float, float, int]]) -> list[list[int]]:
    """Indices grouped into runs whose intervals overlap (sorted by start)."""
    groups: list[list[int]] = []
    end = float("-inf")
    for start, stop, index in sorted(intervals):
        if groups and start < end:
            groups[-1].append(index)
            end = max(end, stop)
        else:
            groups.append([index])
            end = stop
    return groups


def _columns(boxes: Sequence[BBox], indices: list[int], min_gutter: float) -> list[list[int]]:
    """`indices` split at vertical gaps at least `min_gutter` wide, left to right."""
    runs = _spans([(boxes[i][0], boxes[i][2], i) for i in indices])
    columns: list[list[int]] = [runs[0]]
    right = max(boxes[i][2] for i in runs[0])
    for run in runs[1:]:
        left = min(boxes[i][0] for i in run)
        if left - right >= min_gutter:
            columns.append(run)
        else:
            columns[-1].extend(run)
        right = max(right, max(boxes[i][2] for i in run))
    return columns


def _order(boxes: Sequence[BBox], indices: list[int], min_gutter: float) -> list[int]:
    # Recursive XY-cut: horizontal bands top to bottom; consecutive bands that together
    # keep a vertical gutter are merged (a two-column region whose paragraph gaps happen to
    # line up stays one region) and then read column by column.
    if len(indices) <= 1:
        return list(indices)
    bands = _spans([(boxes[i][1], boxes[i][3], i) for i in indices])
    groups: list[list[int]] = []
    for band in bands:
        if groups and len(_columns(boxes, groups[-1] + band, min_gutter)) > 1:
            groups[-1].extend(band)
        else:
            groups.append(list(band))
    ordered: list[int] = []
    for group in groups:
        columns = _columns(boxes, group, min_gutter)
        if len(columns) > 1:
            for column in columns:
                ordered.extend(_order(boxes, column, min_gutter))
        else:
            ordered.extend(sorted(group, key=lambda i: (boxes[i][1], boxes[i][0])))
    return ordered


def reading_order(boxes: Sequence[BBox], min_gutter: float) -> list[int]:
    """Indices of `boxes` in reading order: top to bottom, columns left to right.

    Columns are separated by vertical gaps of at least `min_gutter` points.
    """
    return _order(boxes, list(range(len(boxes))), min_gutter)


def sort_by_reading_order(
    items: Sequence[T], bbox_of: Callable[[T], BBox], min_gutter: float
) -> list[T]:
    """`items` in reading order (see `reading_order`)."""
    boxes = [bbox_of(item) for item in items]
    return [items[i] for i in reading_order(boxes, min_gutter)]


def typical_size(lines: Sequence[Line]) -> float:
    """The most common font size of `lines`, weighted by text length (12.0 if none)."""
    weights: dict[float, int] = {}
    for line in lines:
        key = round(line.size * 2) / 2
        weights[key] = weights.get(key, 0) + len(line.text)
    if not weights:
        return 12.0
    return max(weights, key=lambda size: (weights[size], -size))


def order_lines(lines: Sequence[Line]) -> list[Line]:
    """`lines` in reading order; the column gutter threshold follows the body font size."""
    gutter = max(typical_size(lines), 4.0)
    return sort_by_reading_order(lines, lambda line: line.bbox, gutter)


_BULLET = re.compile(r"^\s*([•●○◦▪■□▸►‣⁃∙·\-–—*]|\d{1,3}[.)]|[a-zA-Z][.)]|[\ue000-\uf8ff])\s")
_PRIVATE_BULLET = re.compile(r"^\s*[\ue000-\uf8ff]")


def starts_list_item(text: str) -> bool:
    """True when `text` begins with a bullet or an item number ("•", "-", "1.", "a)")."""
    return bool(_BULLET.match(text) or _PRIVATE_BULLET.match(text))


def _similar_size(a: Line, b: Line) -> bool:
    return abs(a.size - b.size) <= 0.15 * max(a.size, b.size)


def _same_column(a: Line, b: Line) -> bool:
    overlap = min(a.bbox[2], b.bbox[2]) - max(a.bbox[0], b.bbox[0])
    return overlap > 0.3 * min(a.bbox[2] - a.bbox[0], b.bbox[2] - b.bbox[0])


def _line_gap(a: Line, b: Line) -> float:
    return b.bbox[1] - a.bbox[3]


def group_paragraphs(lines: Sequence[Line]) -> list[list[Line]]:
    """Consecutive lines (already in reading order) grouped into paragraphs.

    A new paragraph starts at a change of column or font size, at a list bullet, after a
    line that ends well short of the right edge, at a first-line indent, or where the gap
    to the previous line is clearly wider than the usual line gap of the text.
    """
    gaps = [
        _line_gap(a, b) / max(a.size, 1.0)
        for a, b in itertools.pairwise(lines)
        if _same_column(a, b) and _similar_size(a, b)
    ]
    gaps = [gap for gap in gaps if -0.3 < gap < 1.5]
    usual_gap = statistics.median(gaps) if gaps else 0.3
    paragraphs: list[list[Line]] = []
    for line in lines:
        if paragraphs and _continues_paragraph(paragraphs[-1], line, usual_gap):
            paragraphs[-1].append(line)
        else:
            paragraphs.append([line])
    return paragraphs


def _continues_paragraph(paragraph: list[Line], line: Line, usual_gap: float) -> bool:
    previous = paragraph[-1]
    if not (_same_column(previous, line) and _similar_size(previous, line)):
        return False
    if starts_list_item(line.text):
        return False
    if _ends_short(paragraph, line) or _indented(paragraph, line):
        return False
    gap = _line_gap(previous, line) / max(previous.size, 1.0)
    # Once a paragraph has two lines its own spacing is the yardstick; documents mix
    # tight and loose line spacing.
    if len(paragraph) >= 2:
        own = statistics.median(
            _line_gap(a, b) / max(a.size, 1.0) for a, b in itertools.pairwise(paragraph)
        )
        return -0.3 < gap <= own + 0.3
    return -0.3 < gap <= usual_gap + 0.4


def _ends_short(paragraph: list[Line], line: Line) -> bool:
    # A line stopping well before the right edge of its neighbours ends its paragraph.
    previous = paragraph[-1]
    left = min(item.bbox[0] for item in (*paragraph, line))
    right = max(item.bbox[2] for item in (*paragraph, line))
    return right - previous.bbox[2] > max(4 * previous.size, 0.2 * (right - left))


def _indented(paragraph: list[Line], line: Line) -> bool:
    # A first-line indent starts a paragraph; list items hang their continuation lines.
    if starts_list_item(paragraph[0].text):
        return False
    return line.bbox[0] - paragraph[-1].bbox[0] > 0.8 * line.size
