"""Decisions across a document's pages: text repeated at the top or bottom of many pages
(running heads, page numbers) is a header or footer even where one page alone cannot
tell, and title levels follow type sizes over the whole document."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from docmill.engines.local.geometry import height
from docmill.engines.local.pages import PageResult
from docmill.engines.local.structure import PageBlock

BAND = 0.1  # share of the page height at the top and bottom searched for repeats
MIN_PAGES = 3
MIN_SHARE = 0.5  # a text must repeat on at least this share of pages

_DIGITS = re.compile(r"\d+")


def _key(text: str) -> str:
    """Text with numbers masked and spacing dropped, so "Page 3" matches "Page 14"."""
    return _DIGITS.sub("#", "".join(text.split())).lower()


def _band(result: PageResult, bbox: tuple[float, float, float, float]) -> str | None:
    if bbox[3] <= BAND * result.height:
        return "header"
    if bbox[1] >= (1 - BAND) * result.height:
        return "footer"
    return None


def mark_repeated_furniture(results: Sequence[PageResult]) -> None:
    """Retype, in place, text blocks near the page edge whose text repeats across pages."""
    if len(results) < MIN_PAGES:
        return
    seen: Counter[tuple[str, str]] = Counter()
    for result in results:
        keys = {
            (band, _key(block.text))
            for block in result.blocks
            if block.type in ("text", "title", "reference")
            and (band := _band(result, block.bbox)) is not None
            and len(block.text) <= 120
        }
        seen.update(keys)
    needed = max(MIN_PAGES, int(MIN_SHARE * len(results)))
    repeated = {key for key, count in seen.items() if count >= needed}
    for result in results:
        for block in result.blocks:
            band = _band(result, block.bbox)
            if band is not None and (band, _key(block.text)) in repeated:
                block.type = band
                block.level = None


def level_titles(blocks: Sequence[PageBlock]) -> None:
    """Titles set in the document's largest title size become level 1, the others 2."""
    titles = [b for b in blocks if b.type == "title" and b.lines]
    if not titles:
        return
    sizes = {id(b): max(height(line.bbox) for line in b.lines) for b in titles}
    largest = max(sizes.values())
    for block in titles:
        block.level = 1 if sizes[id(block)] >= 0.9 * largest else 2
