"""Table HTML from MonkeyOCR: parsed into a grid, re-emitted as clean HTML and as Markdown.

The HTML comes from outside, so only its structure survives: table, tr, th, td and
their rowspan/colspan; every other tag and attribute is dropped, text is escaped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from html.parser import HTMLParser

MAX_SPAN = 100  # a colspan of a million would make a grid of a million cells


@dataclass
class Cell:
    text: str = ""
    header: bool = False
    rowspan: int = 1
    colspan: int = 1


@dataclass
class Table:
    rows: list[list[Cell]] = field(default_factory=list)


def _span(value: str | None) -> int:
    try:
        return min(max(int(value or "1"), 1), MAX_SPAN)
    except ValueError:
        return 1


class _TableParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.table = Table()
        self._cell: Cell | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._close_cell()
            self.table.rows.append([])
        elif tag in ("td", "th"):
            self._close_cell()
            if not self.table.rows:
                self.table.rows.append([])
            values = dict(attrs)
            self._cell = Cell(
                header=tag == "th",
                rowspan=_span(values.get("rowspan")),
                colspan=_span(values.get("colspan")),
            )
        elif tag == "br" and self._cell is not None:
            self._text.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th", "tr"):
            self._close_cell()

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text.append(data)

    def _close_cell(self) -> None:
        if self._cell is not None:
            self._cell.text = " ".join("".join(self._text).split())
            self.table.rows[-1].append(self._cell)
            self._cell, self._text = None, []

    def close(self) -> None:
        super().close()
        self._close_cell()


def parse_table(markup: str) -> Table:
    """The rows and cells of the first-level table structure in `markup`."""
    parser = _TableParser()
    parser.feed(markup)
    parser.close()
    parser.table.rows = [row for row in parser.table.rows if row]
    return parser.table


def clean_html(table: Table) -> str:
    """The table as HTML with only structural tags and escaped text ('' if empty)."""
    if not table.rows:
        return ""
    out = ["<table>"]
    for row in table.rows:
        out.append("<tr>")
        for cell in row:
            tag = "th" if cell.header else "td"
            spans = "".join(
                f' {name}="{value}"'
                for name, value in (("rowspan", cell.rowspan), ("colspan", cell.colspan))
                if value > 1
            )
            out.append(f"<{tag}{spans}>{html.escape(cell.text)}</{tag}>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def _grid(table: Table) -> list[list[str]]:
    """Cells laid out on a grid; a spanned cell's text stays in its first slot."""
    grid: dict[tuple[int, int], str] = {}
    for r, row in enumerate(table.rows):
        c = 0
        for cell in row:
            while (r, c) in grid:
                c += 1
            for dr in range(cell.rowspan):
                for dc in range(cell.colspan):
                    grid[(r + dr, c + dc)] = cell.text if dr == dc == 0 else ""
            c += cell.colspan
    if not grid:
        return []
    height = len(table.rows)
    width = max(c for _, c in grid) + 1
    return [[grid.get((r, c), "") for c in range(width)] for r in range(height)]


def _escape_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def to_markdown(table: Table) -> str:
    """A GitHub-style Markdown table; the first row is the header ('' if empty)."""
    grid = _grid(table)
    if not grid:
        return ""
    lines = ["| " + " | ".join(_escape_cell(text) for text in grid[0]) + " |"]
    lines.append("|" + "|".join(" --- " for _ in grid[0]) + "|")
    for row in grid[1:]:
        lines.append("| " + " | ".join(_escape_cell(text) for text in row) + " |")
    return "\n".join(lines)
