"""From text lines and layout regions to typed blocks in reading order, for one page.

Figure, table and equation regions take the lines inside them. The other lines are
labelled by the region they sit in (title, caption, header, footer, reference, text),
grouped into paragraphs and lists, and ordered column by column.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from docmill.document import BBox
from docmill.engines.local.geometry import (
    Region,
    TextLine,
    area,
    covered_fraction,
    height,
    horizontal_overlap,
    intersection,
    union,
)
from docmill.engines.local.reading import order_boxes

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

_BULLET = re.compile(
    r"^\s*([•●○◦▪▫■□‣⁃∙·\-\*\uf0b7\uf0a7\uf0d8\uf076]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s+"
)
_PAGE_NUMBER = re.compile(
    r"^\s*(?:[-–—]\s*)?(?:page\s+|第\s*)?\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?\s*(?:页)?(?:\s*[-–—])?\s*$",
    re.IGNORECASE,
)
_SENTENCE_END = frozenset("。．.!?！？；;")
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


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


def is_cjk(ch: str) -> bool:
    return bool(_CJK.match(ch))


def join_lines(texts: list[str]) -> str:
    """Lines of one paragraph as one string: hyphenation undone, no spaces between CJK."""
    out = ""
    for raw in texts:
        text = raw.strip()
        if not text:
            continue
        if not out:
            out = text
        elif out.endswith("-") and len(out) > 1 and out[-2].isalpha() and text[0].islower():
            out = out[:-1] + text
        elif is_cjk(out[-1]) and is_cjk(text[0]):
            out += text
        else:
            out += " " + text
    return out


def _suppress_duplicates(regions: list[Region]) -> list[Region]:
    """Regions of one kind that mostly overlap become their union (highest score kept)."""
    kept: list[Region] = []
    for region in sorted(regions, key=lambda r: -r.score):
        for i, other in enumerate(kept):
            smaller = min(area(region.bbox), area(other.bbox)) or 1.0
            if other.kind == region.kind and intersection(region.bbox, other.bbox) > 0.5 * smaller:
                kept[i] = Region(other.kind, union([other.bbox, region.bbox]), other.score)
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
                    union([other.bbox, line.bbox]),
                    join_lines([other.text, line.text]),
                    min(other.score, line.score),
                )
                break
        else:
            merged.append(line)
    return merged


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
    if _PAGE_NUMBER.match(line.text):
        middle = _center(line.bbox)[1]
        if middle < NARROW_FURNITURE_BAND * page_height:
            return "header", -1
        if middle > (1 - FURNITURE_BAND) * page_height:
            return "footer", -1
    return "text", -1


def _retype(block: PageBlock, page_height: float, body_height: float) -> None:
    """Second thoughts on the model's labels, from position and type size."""
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


def _starts_item(line: TextLine) -> bool:
    return bool(_BULLET.match(line.text))


def line_spacing(lines: list[TextLine]) -> float:
    """The usual gap between a line and the next one below it (0 when there is none)."""
    gaps: list[float] = []
    ordered = sorted(lines, key=lambda ln: ln.bbox[1])
    for i, line in enumerate(ordered):
        below = next(
            (
                o
                for o in ordered[i + 1 :]
                if horizontal_overlap(line.bbox, o.bbox) > 0.3
                and o.bbox[1] > line.bbox[1] + 0.5 * height(line.bbox)
            ),
            None,
        )
        if below is not None:
            gaps.append(max(0.0, below.bbox[1] - line.bbox[3]))
    return statistics.median(gaps) if gaps else 0.0


def _continues(group: list[TextLine], line: TextLine, body_height: float, spacing: float) -> bool:
    """Whether `line` carries on the paragraph whose lines so far are `group`."""
    last = group[-1]
    line_height = max(height(last.bbox), height(line.bbox), 1.0)
    gap = line.bbox[1] - last.bbox[3]
    allowed = max(0.9 * max(line_height, body_height), 1.4 * spacing + 0.2 * line_height)
    if gap > allowed or gap < -0.5 * line_height:
        return False
    if horizontal_overlap(last.bbox, line.bbox) < 0.3:
        return False
    left = min(ln.bbox[0] for ln in group)
    right = max(max(ln.bbox[2] for ln in group), line.bbox[2])
    # A short line ends its paragraph; an indented line starts a new one (except under a
    # list item, whose wrapped lines hang indented below the bullet).
    if len(group) > 1 and last.bbox[2] < right - 3 * line_height:
        return False
    if _starts_item(group[0]):
        return True
    return not (len(group) > 1 and line.bbox[0] > left + 1.2 * line_height)


def _group_paragraphs(
    lines: list[tuple[TextLine, str, int]], body_height: float, spacing: float
) -> list[tuple[str, list[TextLine]]]:
    """Lines (with label and label region) grouped into paragraphs, each with its label."""
    open_groups: list[tuple[str, int, list[TextLine]]] = []
    for line, label, region in sorted(lines, key=lambda t: (t[0].bbox[1], t[0].bbox[0])):
        target = None
        if not (label in ("text", "reference") and _starts_item(line)):
            for group in reversed(open_groups):
                g_label, g_region, g_lines = group
                if (
                    g_label == label
                    and g_region == region
                    and _continues(g_lines, line, body_height, spacing)
                ):
                    target = group
                    break
        if target is None:
            open_groups.append((label, region, [line]))
        else:
            target[2].append(line)
    return [(label, group_lines) for label, _, group_lines in open_groups]


def _block_from(label: str, group: list[TextLine], body_height: float) -> PageBlock:
    texts = [ln.text for ln in group]
    if label in ("text", "reference") and _starts_item(group[0]):
        return PageBlock("list", union([ln.bbox for ln in group]), group, join_lines(texts))
    block = PageBlock(label, union([ln.bbox for ln in group]), group, join_lines(texts))
    block.score = min(ln.score for ln in group)
    return block


def _merge_lists(blocks: list[PageBlock]) -> list[PageBlock]:
    """Consecutive list items become one list block, one Markdown item per source item."""
    out: list[PageBlock] = []
    for block in blocks:
        item = "- " + _BULLET.sub("", block.text, count=1).strip()
        if block.type == "list" and out and out[-1].type == "list":
            previous = out[-1]
            previous.lines.extend(block.lines)
            previous.bbox = union([previous.bbox, block.bbox])
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
    heights = [height(ln.bbox) for ln in free] or [10.0]
    body_height = statistics.median(heights)
    labelled = [(line, *_label_of(line, labels, page_height)) for line in free]
    spacing = min(line_spacing(free), 1.5 * body_height)
    groups = _group_paragraphs(labelled, body_height, spacing)
    text_blocks = [_block_from(label, group, body_height) for label, group in groups]
    for block in text_blocks:
        _retype(block, page_height, body_height)
    for block in container_blocks:
        block.lines.sort(key=lambda ln: (ln.bbox[1], ln.bbox[0]))
        block.text = join_lines([ln.text for ln in block.lines])
    headers = [b for b in text_blocks if b.type == "header"]
    footers = [b for b in text_blocks if b.type == "footer"]
    body = [b for b in text_blocks + container_blocks if b.type not in ("header", "footer")]
    ordered = (
        order_boxes(headers, lambda b: b.bbox)
        + _merge_lists(order_boxes(body, lambda b: b.bbox))
        + order_boxes(footers, lambda b: b.bbox)
    )
    _attach_captions(ordered)
    return ordered
