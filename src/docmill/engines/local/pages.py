"""One page through the local engine: route, analyse layout, read text, crop images."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from docmill.document import BBox, ImageRef, Word
from docmill.engines.layout_text import union_bbox
from docmill.engines.local.geometry import (
    Region,
    TextLine,
    area,
    covered_fraction,
    intersection,
)
from docmill.engines.local.layout import detect_regions
from docmill.engines.local.ocr import recognize_lines
from docmill.engines.local.routing import choose_path
from docmill.engines.local.sources import PageSource, Rendered
from docmill.engines.local.structure import PageBlock, build_blocks
from docmill.engines.local.tables import recover_grid, to_html, to_markdown
from docmill.engines.words import in_reading_order, shifted

# Text-layer pages are rendered only for layout analysis and figure crops.
TEXT_PATH_DPI = 144.0
CROPPED_TYPES = ("figure", "table", "equation")
# Regions read by OCR on a text-layer page when the text layer has nothing in them.
READ_IF_EMPTY = frozenset({"text", "title", "table", "reference", "equation"})
MIN_READ_AREA = 400.0  # square points; smaller empty regions are noise


@dataclass(frozen=True)
class PageSettings:
    ocr_dpi: float = 200.0
    max_render_pixels: int = 8_000_000
    force_ocr: bool = False


@dataclass
class PageResult:
    """Everything one page contributes to the Document (picklable, for a process pool)."""

    index: int
    width: float
    height: float
    path: str  # "text" or "ocr"
    blocks: list[PageBlock] = field(default_factory=list)
    images: list[ImageRef] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)  # Page.words


def _crop(rendered: Rendered, bbox: BBox) -> Image.Image | None:
    s = rendered.scale
    box = (
        max(0, int(bbox[0] * s)),
        max(0, int(bbox[1] * s)),
        min(rendered.image.width, int(bbox[2] * s + 1)),
        min(rendered.image.height, int(bbox[3] * s + 1)),
    )
    if box[2] - box[0] < 4 or box[3] - box[1] < 4:
        return None
    return rendered.image.crop(box)


def _has_text(box: BBox, lines: list[TextLine]) -> bool:
    return any(
        intersection(line.bbox, box) > 0.25 * min(area(line.bbox), area(box)) for line in lines
    )


def _unread_areas(regions: list[Region], pictures: list[BBox], lines: list[TextLine]) -> list[BBox]:
    """Areas of a text-layer page holding pictures of text (a pasted scan, a table image)
    that the text layer does not cover: text-like layout regions without text-layer lines,
    and pictures the layout model did not call figures. Overlapping areas are merged."""
    figures = [r.bbox for r in regions if r.kind == "figure"]
    areas = [r.bbox for r in regions if r.kind in READ_IF_EMPTY]
    areas += [p for p in pictures if not any(covered_fraction(p, f) > 0.5 for f in figures)]
    wanted = [box for box in areas if area(box) >= MIN_READ_AREA and not _has_text(box, lines)]
    return _merge_overlapping(wanted)


def _merge_overlapping(boxes: list[BBox]) -> list[BBox]:
    """Boxes that overlap merged into their union, so no area is read twice."""
    merged: list[BBox] = []
    for box in boxes:
        overlapping = [m for m in merged if intersection(m, box) > 0]
        merged = [m for m in merged if m not in overlapping]
        merged.append(union_bbox([box, *overlapping]))
    return merged


def _read_region(rendered: Rendered, bbox: BBox) -> list[TextLine]:
    """OCR lines of one area of the page, in page points."""
    crop = _crop(rendered, bbox)
    if crop is None:
        return []
    x0, y0 = bbox[0], bbox[1]
    return [
        TextLine(
            (line.bbox[0] + x0, line.bbox[1] + y0, line.bbox[2] + x0, line.bbox[3] + y0),
            line.text,
            line.size,
            line.score,
            shifted(line.words, x0, y0),
        )
        for line in recognize_lines(crop, rendered.scale)
    ]


def _finish_container(
    block: PageBlock, crop: Image.Image | None, scale: float, lines: list[TextLine]
) -> None:
    """Tables get a recovered grid (Markdown + HTML) when one is found."""
    if block.type != "table":
        return
    grid = recover_grid(lines, block.bbox, crop, scale)
    if grid is not None:
        block.text = to_markdown(grid)
        block.html = to_html(grid)


def process_page(
    source: PageSource, index: int, out_dir: Path, settings: PageSettings
) -> PageResult:
    """The page's blocks in reading order; figure, table and equation crops are written
    to `out_dir/images/`. Raises EngineError when the page cannot be read or rendered."""
    started = time.perf_counter()
    width, height = source.page_size(index)
    warnings: list[str] = []
    text_lines = [] if settings.force_ocr else source.text_lines(index)
    path = choose_path(text_lines, settings.force_ocr)
    if path == "text":
        rendered = source.render(index, TEXT_PATH_DPI, settings.max_render_pixels)
        regions = detect_regions(rendered.image, rendered.scale)
        unread = _unread_areas(regions, source.image_boxes(index), text_lines)
        if unread or any(r.kind in CROPPED_TYPES for r in regions):
            # Crops and region OCR work at the OCR resolution, sharper than the layout one.
            rendered = source.render(index, settings.ocr_dpi, settings.max_render_pixels)
        read: list[TextLine] = []
        for box in unread:
            read += _read_region(rendered, box)
        blocks = build_blocks(text_lines + read, regions, (width, height))
        words = source.text_words(index) + _ocr_words(read, blocks)
    else:
        rendered = source.render(index, settings.ocr_dpi, settings.max_render_pixels)
        regions = detect_regions(rendered.image, rendered.scale)
        lines = recognize_lines(rendered.image, rendered.scale)
        blocks = build_blocks(lines, regions, (width, height), merge_pieces=True)
        words = _ocr_words(lines, blocks)
        if not lines:
            warnings.append(f"page {index + 1}: no text was recognized")
    images: list[ImageRef] = []
    counts: dict[str, int] = {}
    for block in blocks:
        if block.type not in CROPPED_TYPES:
            continue
        crop = _crop(rendered, block.bbox)
        _finish_container(block, crop, rendered.scale, block.lines)
        if crop is None:
            continue
        counts[block.type] = counts.get(block.type, 0) + 1
        name = f"p{index + 1}_{block.type}{counts[block.type]}.png"
        target = out_dir / "images" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        crop.save(partial, format="PNG", compress_level=3)
        partial.replace(target)
        images.append(ImageRef(name=name, page=index, bbox=block.bbox, path=f"images/{name}"))
        block.image = name
    return PageResult(
        index=index,
        width=width,
        height=height,
        path=path,
        blocks=blocks,
        images=images,
        seconds=time.perf_counter() - started,
        warnings=warnings,
        words=words,
    )


def _ocr_words(lines: list[TextLine], blocks: list[PageBlock]) -> list[Word]:
    """The recognised lines' words, in the reading order of the page's blocks."""
    return in_reading_order([(line.bbox, line.words) for line in lines], [b.bbox for b in blocks])
