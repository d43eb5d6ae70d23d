"""Boxes and text lines: the small interface the OCR, layout and grouping code share.

Boxes are `(x0, y0, x1, y1)` in page points with a top-left origin (1 px = 1 pt for images).
"""

from __future__ import annotations

from dataclasses import dataclass

from docmill.document import BBox, Word
from docmill.engines.layout_text import Line


@dataclass(frozen=True)
class TextLine(Line):
    """A `Line` (bbox, text, size) with the recognizer's confidence (1.0 for a text layer).

    For OCR output `size` is the height of the line's box, as `layout_text` expects, and
    `words` holds the line's words with their boxes.
    """

    score: float = 1.0
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Region:
    """One layout region: `kind` is a CDLA label such as "text", "table" or "figure"."""

    kind: str
    bbox: BBox
    score: float


def width(box: BBox) -> float:
    return max(0.0, box[2] - box[0])


def height(box: BBox) -> float:
    return max(0.0, box[3] - box[1])


def area(box: BBox) -> float:
    return width(box) * height(box)


def intersection(a: BBox, b: BBox) -> float:
    """The area two boxes share."""
    return area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def covered_fraction(inner: BBox, outer: BBox) -> float:
    """How much of `inner` lies within `outer` (0..1)."""
    own = area(inner)
    return intersection(inner, outer) / own if own > 0 else 0.0


def horizontal_overlap(a: BBox, b: BBox) -> float:
    """Shared width over the narrower box's width (0..1)."""
    shared = min(a[2], b[2]) - max(a[0], b[0])
    narrower = min(width(a), width(b))
    return max(0.0, shared) / narrower if narrower > 0 else 0.0
