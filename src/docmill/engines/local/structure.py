"""From text lines and layout regions to typed blocks in reading order, for one page.

Figure, table and equation regions take the lines inside them. The other lines are
labelled by the region they sit in (title, caption, header, footer, reference, text);
the lines of each region are grouped into paragraphs and the blocks ordered column by
column with the shared text-layout code (`docmill.engines.layout_text`), so text-layer
and OCR pages are grouped alike.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field, replace
from typing import cast

from docmill.document import BBox
from docmill.engines.furniture import is_page_number
from docmill.engines.layout_text import (
    group_paragraphs,
    join_lines,
    order_lines,
    sort_by_reading_order,
    starts_list_item,
    typical_size,
    union_bbox,
)
from docmill.engines.local.geometry import (
    Region,
    TextLine,
    area,
    covered_fraction,
    height,
    horizontal_overlap,
    intersection,
)

CONTAINERS = ("table", "equation", "figure")  # in order of precedence for a line
# Which label region wins when a line sits in several.
LABEL_PRIORITY = {
    "title": 0,
    "figure_caption": 1,
    "table_caption": 1,
    "header": 2,
    "footer": 2,
    "reference": 3,
    "text": 4,
}
# Top and bottom shares of the page where headers and footers live: the model's own
# header/footer labels are trusted in the wide band, small print alone in the narrow one.
FURNITURE_BAND = 0.12
NARROW_FURNITURE_BAND = 0.06

# A bullet glyph (symbol-font bullets sit in the private use area) and the space after it.
_BULLET_MARK = re.compile(r"^\s*(?:[•●○◦▪▫■□▸►‣⁃∙·\-–—*]|[\ue000-\uf8ff])\s*")
_PRIVATE_GLYPHS = re.compile(r"[\ue000-\uf8ff]")
_SENTENCE_END = frozenset("。．.!?！？；;")


@dataclass
class PageBlock:
    """A block of one page before it becomes a `Block` of the Document."""

    type: str
    bbox: BBox
    lines: list[TextLine] = field(default_factory=list)
    text: str = ""
    level: int | None = None
    caption: str | None = None
    html: str | None = None
    image: str | None = None  # name of the cropped image, for figures, tables, equations
    score: float | None = None


def _suppress_duplicates(regions: list[Region]) -> list[Region]:
    """Regions of one kind that mostly overlap become their union (highest score kept)."""
    kept: list[Region] = []
    for region in sorted(regions, key=lambda r: -r.score):
        for i, other in enumerate(kept):
            smaller = min(area(region.bbox), area(other.bbox)) or 1.0
            if other.kind == region.kind and intersection(region.bbox, other.bbox) > 0.5 * smaller:
                kept[i] = Region(other.kind, union_bbox([other.bbox, region.bbox]), other.score)
                break
        else:
            kept.append(region)
    return kept


def merge_line_pieces(lines: list[TextLine]) -> list[TextLine]:
    """OCR boxes on one row with a small gap between them joined into one line."""
    merged: list[TextLine] = []
    for line in sorted(lines, key=lambda ln: (ln.bbox[0], ln.bbox[1])):
        for i, other in enumerate(merged):
            shared = min(other.bbox[3], line.bbox[3]) - max(other.bbox[1], line.bbox[1])
            tallest = max(height(other.bbox), height(line.bbox), 1.0)
            gap = line.bbox[0] - other.bbox[2]
            if shared > 0.6 * tallest and -0.5 * tallest < gap < 0.8 * tallest:
                merged[i] = TextLine(
                    union_bbox([other.bbox, line.bbox]),
                    join_lines([other.text, line.text]),
                    max(other.size, line.size),
                    min(other.score, line.score),
                )
                break
        else:
            merged.append(line)
    return merged


def even_out_sizes(lines: list[TextLine]) -> list[TextLine]:
    """OCR lines with the page's usual size when theirs is near it.

    An OCR box is as tall as its letters: a line with descenders ("g", "y") is taller than
    one without. Paragraph grouping compares sizes, so near-equal ones are made equal.
    """
    if not lines:
        return lines
    usual = statistics.median(line.size for line in lines)
    return [
        replace(line, size=usual) if abs(line.size - usual) <= 0.25 * usual else line
        for line in lines
    ]


def _body_height(lines: list[TextLine]) -> float:
    """The usual line height of body text. Text-layer lines (score 1.0) decide when there
    are any, since OCR boxes on the same page (pictures of text) run taller than type."""
    layer = [height(line.bbox) for line in lines if line.score >= 1.0]
    heights = layer or [height(line.bbox) for line in lines]
    return statistics.median(heights) if heights else 10.0


def _reads_as_prose(line: TextLine, figure: BBox) -> bool:
    """A long line across most of a figure region is body text the model took for a figure."""
    return len(line.text) >= 15 and (line.bbox[2] - line.bbox[0]) > 0.5 * (figure[2] - figure[0])


def _center(box: BBox) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def _inside(box: BBox, region: BBox) -> bool:
    x, y = _center(box)
    return region[0] <= x <= region[2] and region[1] <= y <= region[3]


def _label_of(line: TextLine, labels: list[Region], page_height: float) -> tuple[str, int]:
    """The line's label and the index of the region that gave it (-1 when none did)."""
    candidates = [
        (LABEL_PRIORITY[r.kind], -covered_fraction(line.bbox, r.bbox), i)
        for i, r in enumerate(labels)
        if covered_fraction(line.bbox, r.bbox) >= 0.5
    ]
    if candidates:
        _, _, index = min(candidates)
        return labels[index].kind, index
    if is_page_number(line.text):
        middle = _center(line.bbox)[1]
        if middle < NARROW_FURNITURE_BAND * page_height:
            return "header", -1
        if middle > (1 - FURNITURE_BAND) * page_height:
            return "footer", -1
    return "text", -1


def _retype(block: PageBlock, page_height: float, body_height: float) -> None:
    """Second thoughts on the model's labels, from position and line height."""
    tallest = max(height(ln.bbox) for ln in block.lines)
    small = tallest < 0.95 * body_height
    top, bottom = block.bbox[1], block.bbox[3]
    if (
        block.type == "header"
        and not (
            bottom < FURNITURE_BAND * page_height
            and (small or bottom < NARROW_FURNITURE_BAND * page_height)
        )
    ) or (block.type == "footer" and top < (1 - FURNITURE_BAND) * page_height):
        block.type = "text"
    elif block.type in ("title", "text") and small and len(block.lines) <= 2:
        if bottom < NARROW_FURNITURE_BAND * page_height:
            block.type = "header"
        elif top > (1 - NARROW_FURNITURE_BAND) * page_height:
            block.type = "footer"
    if block.type == "title" and (
        len(block.lines) >= 3
        or (len(block.lines) == 2 and tallest < 1.1 * body_height)
        or (len(block.text) > 8 and block.text.rstrip()[-1:] in _SENTENCE_END)
    ):
        block.type = "text"
    if block.type in ("figure_caption", "table_caption") and (
        len(block.lines) > 3 or len(block.text) > 200
    ):
        block.type = "text"
    if block.type == "title":
        block.level = 1 if tallest >= 1.35 * body_height else 2
    elif block.type != "title":
        block.level = None


def _paragraphs(labelled: list[tuple[TextLine, str, int]]) -> list[tuple[str, list[TextLine]]]:
    """Paragraphs within each label region (lines outside any region count as one)."""
    buckets: dict[tuple[str, int], list[TextLine]] = {}
    for line, label, region in labelled:
        buckets.setdefault((label, region), []).append(line)
    # group_paragraphs hands back the very TextLine objects it was given.
    return [
        (label, cast(list[TextLine], paragraph))
        for (label, _), bucket in buckets.items()
        for paragraph in group_paragraphs(order_lines(bucket))
    ]


def _block_from(label: str, group: list[TextLine]) -> PageBlock:
    text = join_lines([ln.text for ln in group])
    bbox = union_bbox([ln.bbox for ln in group])
    kind = "list" if label in ("text", "reference") and starts_list_item(text) else label
    if kind == "title":
        text = " ".join(_PRIVATE_GLYPHS.sub("", text).split())
    return PageBlock(kind, bbox, group, text, score=min(ln.score for ln in group))


def _merge_lists(blocks: list[PageBlock]) -> list[PageBlock]:
    """Consecutive list items become one list block, one Markdown item per source item."""
    out: list[PageBlock] = []
    for block in blocks:
        item = _BULLET_MARK.sub("- ", block.text, count=1)
        if block.type == "list" and out and out[-1].type == "list":
            previous = out[-1]
            previous.lines.extend(block.lines)
            previous.bbox = union_bbox([previous.bbox, block.bbox])
            previous.text += "\n" + item
        elif block.type == "list":
            block.text = item
            out.append(block)
        else:
            out.append(block)
    return out


def _attach_captions(blocks: list[PageBlock]) -> None:
    """A caption next to a figure or table (just below or above it) names it."""
    for caption in blocks:
        kind = {"figure_caption": "figure", "table_caption": "table"}.get(caption.type)
        if kind is None:
            continue
        targets = [b for b in blocks if b.type == kind and b.caption is None]
        if not targets:
            continue

        def distance(target: PageBlock, cap: PageBlock = caption) -> float:
            below = cap.bbox[1] - target.bbox[3]
            above = target.bbox[1] - cap.bbox[3]
            return max(below, above, 0.0) + (
                0.0 if horizontal_overlap(target.bbox, cap.bbox) > 0 else 1000.0
            )

        nearest = min(targets, key=distance)
        if distance(nearest) < 100.0:
            nearest.caption = caption.text


def build_blocks(
    lines: list[TextLine],
    regions: list[Region],
    page_size: tuple[float, float],
    merge_pieces: bool = False,
) -> list[PageBlock]:
    """Typed blocks of one page in reading order: headers first, footers last.

    Figure, table and equation blocks carry the lines inside them; their text, images
    and tables are filled in by the caller. `merge_pieces` joins OCR boxes that split one
    line (never inside tables, where the pieces are cells).
    """
    _, page_height = page_size
    regions = _suppress_duplicates(regions)
    containers = [r for r in regions if r.kind in CONTAINERS]
    labels = [r for r in regions if r.kind not in CONTAINERS]
    container_blocks = [
        PageBlock(r.kind, r.bbox, score=r.score)
        for r in sorted(containers, key=lambda r: CONTAINERS.index(r.kind))
    ]
    free: list[TextLine] = []
    for line in lines:
        home = next((b for b in container_blocks if _inside(line.bbox, b.bbox)), None)
        if home is not None and home.type == "figure" and _reads_as_prose(line, home.bbox):
            home = None
        if home is None:
            free.append(line)
        else:
            home.lines.append(line)
    if merge_pieces:
        free = merge_line_pieces(free)
    recognized = [line for line in free if line.score < 1.0]
    free = [line for line in free if line.score >= 1.0] + even_out_sizes(recognized)
    body_height = _body_height(free)
    labelled = [(line, *_label_of(line, labels, page_height)) for line in free]
    text_blocks = [_block_from(label, group) for label, group in _paragraphs(labelled)]
    for block in text_blocks:
        _retype(block, page_height, body_height)
    for block in container_blocks:
        block.lines.sort(key=lambda ln: (ln.bbox[1], ln.bbox[0]))
        block.text = join_lines([ln.text for ln in block.lines])
    gutter = max(typical_size(free), 4.0)

    def in_order(blocks: list[PageBlock]) -> list[PageBlock]:
        return sort_by_reading_order(blocks, lambda b: b.bbox, gutter)

    headers = [b for b in text_blocks if b.type == "header"]
    footers = [b for b in text_blocks if b.type == "footer"]
    body = [b for b in text_blocks + container_blocks if b.type not in ("header", "footer")]
    ordered = in_order(headers) + _merge_lists(in_order(body)) + in_order(footers)
    _attach_captions(ordered)
    return ordered
