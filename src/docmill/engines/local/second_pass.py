"""Decisions across a document's pages: text repeated at the top or bottom of many pages
(running heads, page numbers) is a header or footer even where one page alone cannot
tell, and title levels follow type sizes over the whole document."""

from __future__ import annotations

from collections.abc import Sequence

from docmill.engines.furniture import PageLines, find_furniture
from docmill.engines.layout_text import Line
from docmill.engines.local.geometry import height
from docmill.engines.local.pages import PageResult
from docmill.engines.local.structure import PageBlock

# Blocks that may turn out to be running heads or page numbers.
_CANDIDATES = frozenset({"text", "title", "reference"})


def _size(block: PageBlock) -> float:
    return max((height(line.bbox) for line in block.lines), default=height(block.bbox))


def mark_repeated_furniture(results: Sequence[PageResult]) -> None:
    """Retype, in place, blocks in the page margins that are page numbers or repeat across
    pages (see `docmill.engines.furniture.find_furniture`)."""
    candidates = [[b for b in result.blocks if b.type in _CANDIDATES] for result in results]
    pages = [
        PageLines(
            height=result.height,
            lines=[Line(b.bbox, b.text, _size(b)) for b in blocks],
        )
        for result, blocks in zip(results, candidates, strict=True)
    ]
    for blocks, marks in zip(candidates, find_furniture(pages), strict=True):
        for index, kind in marks.items():
            blocks[index].type = kind
            blocks[index].level = None


def level_titles(blocks: Sequence[PageBlock]) -> None:
    """Titles set in the document's largest title size become level 1, the others 2."""
    titles = [b for b in blocks if b.type == "title" and b.lines]
    if not titles:
        return
    sizes = {id(b): _size(b) for b in titles}
    largest = max(sizes.values())
    for block in titles:
        block.level = 1 if sizes[id(block)] >= 0.9 * largest else 2
