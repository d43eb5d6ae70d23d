"""One page through the local engine: route, analyse layout, read text, crop images."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from docmill.document import BBox, ImageRef
from docmill.engines.local.geometry import TextLine
from docmill.engines.local.layout import detect_regions
from docmill.engines.local.ocr import recognize_lines
from docmill.engines.local.routing import choose_path
from docmill.engines.local.sources import PageSource, Rendered
from docmill.engines.local.structure import PageBlock, build_blocks
from docmill.engines.local.tables import recover_grid, to_html, to_markdown

# Text-layer pages are rendered only for layout analysis and figure crops.
TEXT_PATH_DPI = 144.0
CROPPED_TYPES = ("figure", "table", "equation")


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
    text_lines = [] if settings.force_ocr else source.text_lines(index)
    path = choose_path(text_lines, settings.force_ocr)
    if path == "text":
        rendered = source.render(index, TEXT_PATH_DPI, settings.max_render_pixels)
        regions = detect_regions(rendered.image, rendered.scale)
        blocks = build_blocks(text_lines, regions, (width, height))
        if any(block.type in CROPPED_TYPES for block in blocks):
            # Crops are kept at the OCR resolution, sharper than the layout render.
            rendered = source.render(index, settings.ocr_dpi, settings.max_render_pixels)
    else:
        rendered = source.render(index, settings.ocr_dpi, settings.max_render_pixels)
        regions = detect_regions(rendered.image, rendered.scale)
        lines = recognize_lines(rendered.image, rendered.scale)
        blocks = build_blocks(lines, regions, (width, height), merge_pieces=True)
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
    )
