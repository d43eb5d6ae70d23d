"""Turning lines of text into typed Blocks: paragraphs, titles, list items, furniture."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from docmill.document import Block, BlockType
from docmill.engines.furniture import FurnitureKind
from docmill.engines.layout_text import (
    Line,
    group_paragraphs,
    join_lines,
    order_lines,
    starts_list_item,
    typical_size,
    union_bbox,
)

# A paragraph this much bigger than the body text is a title.
TITLE_SIZE_RATIO = 1.15
# Titles are short: at most this many lines and characters.
TITLE_MAX_LINES = 4
TITLE_MAX_CHARS = 120
MAX_TITLE_LEVEL = 6

_BULLET_MARK = re.compile(r"^\s*(?:[•●○◦▪■□▸►‣⁃∙·\-–—*]|[\ue000-\uf8ff])\s*")
_PRIVATE_GLYPH = re.compile(r"^\s*[\ue000-\uf8ff]")
_MARKDOWN_START = re.compile(r"^(#{1,6}\s|>|\+\s|=+$)")


@dataclass(frozen=True)
class FontProfile:
    """The body font size of a document and its heading sizes, biggest first."""

    body_size: float
    heading_sizes: tuple[float, ...]

    @classmethod
    def from_lines(cls, lines: Iterable[Line]) -> FontProfile:
        """Body size = the most used size (by characters); bigger sizes are heading levels."""
        all_lines = list(lines)
        body = typical_size(all_lines)
        sizes = {
            round(line.size * 2) / 2
            for line in all_lines
            if line.size >= TITLE_SIZE_RATIO * body and len(line.text) <= TITLE_MAX_CHARS
        }
        return cls(body, tuple(sorted(sizes, reverse=True)))

    def title_level(self, size: float) -> int | None:
        """The heading level (1 = biggest) for text of `size`, or None for body text."""
        if size < TITLE_SIZE_RATIO * self.body_size or not self.heading_sizes:
            return None
        sizes = self.heading_sizes
        nearest = min(range(len(sizes)), key=lambda i: abs(sizes[i] - size))
        return min(nearest + 1, MAX_TITLE_LEVEL)


def _escape_start(text: str) -> str:
    # Body text that happens to start like Markdown syntax must not turn into a heading.
    return "\\" + text if _MARKDOWN_START.match(text) else text


def _looks_like_title(text: str, line_count: int) -> bool:
    # Big text that wraps a lot, continues a sentence or trails off is emphasis, not a title.
    return (
        line_count <= TITLE_MAX_LINES
        and len(text) <= TITLE_MAX_CHARS
        and not text[0].islower()
        and not text.endswith((",", "，", ";", "；", "、"))
    )


def paragraph_block(lines: Sequence[Line], page: int, profile: FontProfile) -> Block:
    """One Block for a paragraph's lines: a title, a list item or text."""
    text = join_lines([line.text for line in lines])
    size = max(line.size for line in lines)
    bbox = union_bbox([line.bbox for line in lines])
    level = profile.title_level(size)
    block_type: BlockType = "text"
    if level is not None and _looks_like_title(text, len(lines)):
        block_type = "title"
        text = _BULLET_MARK.sub("", text, count=1) if _PRIVATE_GLYPH.match(text) else text
    elif starts_list_item(text):
        block_type = "list"
        text = _BULLET_MARK.sub("- ", text, count=1)
    else:
        level = None
        text = _escape_start(text)
    return Block(id="", page=page, order=0, type=block_type, bbox=bbox, text=text, level=level)


def blocks_from_lines(
    lines: Sequence[Line],
    page: int,
    profile: FontProfile,
    furniture: Mapping[int, FurnitureKind] | None = None,
) -> list[Block]:
    """Blocks of one page in reading order: headers, body paragraphs, then footers.

    `furniture` maps indices into `lines` to header/footer; those lines become their own
    blocks. Ids and orders are numbered within the page (see `number_blocks`).
    """
    marks = furniture or {}
    body = order_lines([line for i, line in enumerate(lines) if i not in marks])
    headers = _furniture_blocks(lines, marks, "header", page)
    footers = _furniture_blocks(lines, marks, "footer", page)
    paragraphs = [paragraph_block(group, page, profile) for group in group_paragraphs(body)]
    return number_blocks([*headers, *paragraphs, *footers])


def _furniture_blocks(
    lines: Sequence[Line], marks: Mapping[int, FurnitureKind], kind: FurnitureKind, page: int
) -> list[Block]:
    chosen = sorted(
        (lines[i] for i, mark in marks.items() if mark == kind),
        key=lambda line: (line.bbox[1], line.bbox[0]),
    )
    return [
        Block(id="", page=page, order=0, type=kind, bbox=line.bbox, text=line.text.strip())
        for line in chosen
    ]


def number_blocks(blocks: Sequence[Block], start: int = 0) -> list[Block]:
    """Copies of `blocks` with `order` counting from `start` and ids "p<page>-b<n>".

    The page part is 1-based and n counts the blocks of that page from 1.
    """
    per_page: dict[int, int] = {}
    numbered: list[Block] = []
    for offset, block in enumerate(blocks):
        per_page[block.page] = per_page.get(block.page, 0) + 1
        numbered.append(
            block.model_copy(
                update={"order": start + offset, "id": f"p{block.page + 1}-b{per_page[block.page]}"}
            )
        )
    return numbered
