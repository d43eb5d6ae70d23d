"""Table structure from a table region: ruling lines where drawn, text alignment otherwise.

The result is a grid of cell texts, rendered as Markdown and HTML.
"""

from __future__ import annotations

import html
import itertools

import numpy as np
from PIL import Image

from docmill.document import BBox
from docmill.engines.layout_text import join_lines
from docmill.engines.local.geometry import TextLine, height

Grid = list[list[str]]


def _runs(indices: np.ndarray) -> list[float]:
    """Centres of runs of consecutive indices (one per drawn rule)."""
    centres: list[float] = []
    start = previous = None
    for value in indices.tolist():
        if start is None:
            start = previous = value
        elif value - previous > 2:
            centres.append((start + previous) / 2)
            start = value
        previous = value
    if start is not None and previous is not None:
        centres.append((start + previous) / 2)
    return centres


def find_rules(image: Image.Image) -> tuple[list[float], list[float]]:
    """Pixel positions of the horizontal (y) and vertical (x) rules drawn in `image`."""
    import cv2  # only in the worker that converts: the API process never needs OpenCV

    gray = np.asarray(image.convert("L"))
    h, w = gray.shape
    if h < 10 or w < 10:
        return [], []
    binary = cv2.adaptiveThreshold(
        255 - gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 15, -2
    )
    horizontal = cv2.morphologyEx(
        binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(w // 8, 10), 1))
    )
    vertical = cv2.morphologyEx(
        binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(h // 8, 10)))
    )
    rows = np.where((horizontal > 0).sum(axis=1) > 0.5 * w)[0]
    cols = np.where((vertical > 0).sum(axis=0) > 0.5 * h)[0]
    return _runs(rows), _runs(cols)


def _bands(edges: list[float]) -> list[tuple[float, float]]:
    return list(itertools.pairwise(edges))


def _text_rows(lines: list[TextLine]) -> list[tuple[float, float]]:
    """Row bands from lines that overlap vertically."""
    bands: list[list[float]] = []
    for line in sorted(lines, key=lambda ln: ln.bbox[1]):
        top, bottom = line.bbox[1], line.bbox[3]
        if bands and top < bands[-1][1] - 0.4 * height(line.bbox):
            bands[-1][1] = max(bands[-1][1], bottom)
        else:
            bands.append([top, bottom])
    return [(a, b) for a, b in bands]


def _text_columns(lines: list[TextLine]) -> list[tuple[float, float]]:
    """Column bands from the gaps left in the x projection of all lines."""
    bands: list[list[float]] = []
    for line in sorted(lines, key=lambda ln: ln.bbox[0]):
        if bands and line.bbox[0] < bands[-1][1] + 2:
            bands[-1][1] = max(bands[-1][1], line.bbox[2])
        else:
            bands.append([line.bbox[0], line.bbox[2]])
    return [(a, b) for a, b in bands]


def _index(value: float, bands: list[tuple[float, float]]) -> int:
    for i, (start, stop) in enumerate(bands):
        if start <= value <= stop:
            return i
    return min(range(len(bands)), key=lambda i: abs((bands[i][0] + bands[i][1]) / 2 - value))


def recover_grid(
    lines: list[TextLine], region: BBox, image: Image.Image | None, scale: float
) -> Grid | None:
    """The table's cells (rows of texts), or None when no grid of at least 2x2 is found.

    `image` is the region's crop at `scale` pixels per point, used to find drawn rules.
    """
    if not lines:
        return None
    rows: list[tuple[float, float]] = []
    columns: list[tuple[float, float]] = []
    if image is not None:
        ys, xs = find_rules(image)
        if len(ys) >= 3:
            rows = _bands([region[1] + y / scale for y in ys])
        if len(xs) >= 3:
            columns = _bands([region[0] + x / scale for x in xs])
    rows = rows or _text_rows(lines)
    columns = columns or _text_columns(lines)
    if len(rows) < 2 or len(columns) < 2:
        return None
    cells: list[list[list[TextLine]]] = [[[] for _ in columns] for _ in rows]
    for line in lines:
        x = (line.bbox[0] + line.bbox[2]) / 2
        y = (line.bbox[1] + line.bbox[3]) / 2
        cells[_index(y, rows)][_index(x, columns)].append(line)
    grid = [
        [join_lines([ln.text for ln in sorted(cell, key=lambda ln: ln.bbox[1])]) for cell in row]
        for row in cells
    ]
    grid = [row for row in grid if any(row)]
    keep = [c for c in range(len(columns)) if any(row[c] for row in grid)]
    grid = [[row[c] for c in keep] for row in grid]
    return grid if len(grid) >= 2 and len(keep) >= 2 else None


def to_markdown(grid: Grid) -> str:
    """The grid as a GitHub Markdown table, first row as the header."""

    def cell(text: str) -> str:
        return " ".join(text.split()).replace("|", "\\|")

    header, *body = grid
    lines = ["| " + " | ".join(cell(c) for c in header) + " |"]
    lines.append("|" + "|".join(" --- " for _ in header) + "|")
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in body)
    return "\n".join(lines)


def to_html(grid: Grid) -> str:
    """The grid as an HTML table, first row as header cells."""
    header, *body = grid
    parts = ["<table>", "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in header) + "</tr>"]
    for row in body:
        parts.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    parts.append("</table>")
    return "".join(parts)
