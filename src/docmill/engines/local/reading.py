"""Reading order of blocks on one page: columns left to right, each top to bottom.

A recursive XY cut that prefers column cuts, and cuts across the page only where a wide
block (a title, a full-width paragraph or figure) separates bands of columns, so that the
aligned paragraph gaps of a two-column page never interleave the columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from docmill.document import BBox

T = TypeVar("T")

# Boxes this many points apart or closer count as touching when looking for gaps.
GAP_TOLERANCE = 2.0
# A block at least this share of the band's width spans its columns.
WIDE_SHARE = 0.6


def _clusters(items: list[T], box: Callable[[T], BBox], axis: int) -> list[list[T]]:
    """Items grouped by overlapping projections on the x (axis 0) or y (axis 1) axis."""
    ordered = sorted(items, key=lambda item: box(item)[axis])
    groups: list[list[T]] = []
    end = float("-inf")
    for item in ordered:
        start, stop = box(item)[axis], box(item)[axis + 2]
        if groups and start < end - GAP_TOLERANCE:
            groups[-1].append(item)
            end = max(end, stop)
        else:
            groups.append([item])
            end = stop
    return groups


def _is_wide(row: list[T], box: Callable[[T], BBox], left: float, right: float) -> bool:
    span = max(right - left, 1.0)
    if any((box(item)[2] - box(item)[0]) >= WIDE_SHARE * span for item in row):
        return True
    return len(_clusters(row, box, 0)) < 2


def order_boxes(items: Sequence[T], box: Callable[[T], BBox]) -> list[T]:
    """`items` in reading order, given each one's box."""
    items = list(items)
    if len(items) <= 1:
        return items
    columns = _clusters(items, box, 0)
    if len(columns) > 1:
        return [item for column in columns for item in order_boxes(column, box)]
    rows = _clusters(items, box, 1)
    if len(rows) == 1:
        return sorted(items, key=lambda item: (box(item)[1], box(item)[0]))
    left = min(box(item)[0] for item in items)
    right = max(box(item)[2] for item in items)
    bands: list[list[T]] = []
    previous_wide = True
    for row in rows:
        wide = _is_wide(row, box, left, right)
        if wide or previous_wide or not bands:
            bands.append(list(row))
        else:
            bands[-1].extend(row)
        previous_wide = wide
    if len(bands) == 1:
        return sorted(items, key=lambda item: (box(item)[1], box(item)[0]))
    return [item for band in bands for item in order_boxes(band, box)]
