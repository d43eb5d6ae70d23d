"""Page furniture: running headers, footers and page numbers, found across pages."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from docmill.engines.layout_text import Line

FurnitureKind = Literal["header", "footer"]

# Share of the page height at the top and at the bottom where furniture may sit.
MARGIN_SHARE = 0.1
# A margin line repeated on at least this share of the pages is furniture.
REPEAT_SHARE = 0.4

_PAGE_NUMBER = re.compile(
    r"^[\W_]*(?:(?:page|p\.|seite|第)\s*)?"
    r"(?:\d{1,4}|[ivxlcdm]{1,7})"
    r"(?:\s*(?:of|/|von|页|頁)\s*\d{1,4})?\s*(?:页|頁)?[\W_]*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PageLines:
    """The lines of one page with the page's height in points."""

    height: float
    lines: Sequence[Line]


def is_page_number(text: str) -> bool:
    """True for text that is only a page number ("12", "- 3 -", "Page 2 of 9", "iv")."""
    return bool(_PAGE_NUMBER.match(text.strip()))


def _zone(line: Line, height: float) -> FurnitureKind | None:
    if line.bbox[3] <= MARGIN_SHARE * height:
        return "header"
    if line.bbox[1] >= (1 - MARGIN_SHARE) * height:
        return "footer"
    return None


def _signature(text: str) -> str:
    # Page numbers and dates change from page to page; the rest of a running head does not.
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def find_furniture(pages: Sequence[PageLines]) -> list[dict[int, FurnitureKind]]:
    """For each page, the indices of its lines that are headers or footers.

    A line counts when it sits in the top or bottom margin band and either is only a page
    number or recurs (digits ignored) in the same band on at least `REPEAT_SHARE` of the
    pages (and on two pages at least).
    """
    counts: Counter[tuple[FurnitureKind, str]] = Counter()
    for page in pages:
        seen = {
            (zone, _signature(line.text))
            for line in page.lines
            if (zone := _zone(line, page.height)) is not None
        }
        counts.update(seen)
    needed = max(2.0, REPEAT_SHARE * len(pages))
    found: list[dict[int, FurnitureKind]] = []
    for page in pages:
        marks: dict[int, FurnitureKind] = {}
        for index, line in enumerate(page.lines):
            zone = _zone(line, page.height)
            if zone is None:
                continue
            if is_page_number(line.text) or counts[(zone, _signature(line.text))] >= needed:
                marks[index] = zone
        found.append(marks)
    return found
