"""Grouping, reading order and table recovery on hand-made lines (no models)."""

from __future__ import annotations

from docmill.engines.local.geometry import Region, TextLine
from docmill.engines.local.routing import choose_path, text_layer_usable
from docmill.engines.local.structure import build_blocks
from docmill.engines.local.tables import recover_grid, to_markdown


def _line(x0: float, y0: float, text: str, width: float = 150, h: float = 10) -> TextLine:
    return TextLine((x0, y0, x0 + width, y0 + h), text, h)


def test_two_columns_are_read_column_by_column() -> None:
    lines = []
    for i in range(3):
        lines.append(_line(40, 100 + i * 14, f"left {i}"))
        lines.append(_line(300, 100 + i * 14, f"right {i}"))
    lines.append(_line(40, 60, "A title across the page", width=410, h=18))
    blocks = build_blocks(lines, [], (500, 700))
    texts = [b.text for b in blocks]
    assert texts == ["A title across the page", "left 0 left 1 left 2", "right 0 right 1 right 2"]


def test_columns_with_aligned_paragraph_gaps_do_not_interleave() -> None:
    lines = []
    for side, x0 in (("L", 40), ("R", 300)):
        for paragraph in range(2):
            for i in range(2):
                y = 100 + paragraph * 60 + i * 14
                lines.append(_line(x0, y, f"{side}{paragraph}{i}"))
    blocks = build_blocks(lines, [], (500, 700))
    assert [b.text for b in blocks] == ["L00 L01", "L10 L11", "R00 R01", "R10 R11"]


def test_page_furniture_goes_first_and_last() -> None:
    lines = [
        _line(40, 300, "Body text of the page."),
        _line(230, 680, "12", width=10, h=8),
        _line(40, 20, "Running head", width=80, h=7),
    ]
    regions = [Region("header", (35, 15, 130, 30), 0.9)]
    blocks = build_blocks(lines, regions, (500, 700))
    assert [(b.type, b.text) for b in blocks] == [
        ("header", "Running head"),
        ("text", "Body text of the page."),
        ("footer", "12"),
    ]


def test_bullets_become_one_list_and_numbers_stay() -> None:
    lines = [
        _line(40, 100, "• first point"),
        _line(40, 114, "• second point"),
        _line(40, 128, "1. third point"),
    ]
    blocks = build_blocks(lines, [], (500, 700))
    assert [(b.type, b.text) for b in blocks] == [
        ("list", "- first point\n- second point\n1. third point")
    ]


def test_lines_inside_a_table_region_belong_to_the_table() -> None:
    lines = [_line(40, 80, "Intro sentence.")]
    for r in range(3):
        for c in range(3):
            lines.append(_line(40 + c * 100, 120 + r * 20, f"r{r}c{c}", width=40))
    blocks = build_blocks(lines, [Region("table", (35, 115, 360, 185), 0.9)], (500, 700))
    assert [b.type for b in blocks] == ["text", "table"]
    table = blocks[1]
    grid = recover_grid(table.lines, table.bbox, None, 1.0)
    assert grid == [[f"r{r}c{c}" for c in range(3)] for r in range(3)]
    assert to_markdown(grid).splitlines()[:2] == ["| r0c0 | r0c1 | r0c2 |", "| --- | --- | --- |"]


def test_a_page_without_enough_text_is_routed_to_ocr() -> None:
    assert choose_path([_line(0, 0, "- 3 -")], force_ocr=False) == "ocr"
    good = [_line(0, 0, "A real sentence on a real page.")]
    assert text_layer_usable(good)
    assert choose_path(good, force_ocr=False) == "text"
    assert choose_path(good, force_ocr=True) == "ocr"
    garbage = [_line(0, 0, "\ue000\ue001\ue002\ue003\ue004\ue005 abcd")]
    assert not text_layer_usable(garbage)


def test_text_repeated_at_page_edges_becomes_furniture() -> None:
    from docmill.engines.local.pages import PageResult
    from docmill.engines.local.second_pass import mark_repeated_furniture
    from docmill.engines.local.structure import PageBlock

    results = []
    for index in range(4):
        blocks = [
            PageBlock("text", (40, 20, 200, 30), text="Annual Report 2026"),
            PageBlock("text", (40, 300, 400, 320), text=f"Body of page {index}."),
            PageBlock("text", (240, 680, 260, 690), text=f"Page {index + 1}"),
        ]
        results.append(PageResult(index, 500, 700, "ocr", blocks))
    mark_repeated_furniture(results)
    assert [[b.type for b in r.blocks] for r in results] == [["header", "text", "footer"]] * 4


def test_wrapped_list_items_keep_their_hanging_lines() -> None:
    lines = [
        _line(40, 100, "• first point that wraps", width=200),
        _line(52, 114, "onto a second line and", width=188),
        _line(52, 128, "a third one", width=60),
        _line(40, 142, "• second point"),
    ]
    blocks = build_blocks(lines, [], (500, 700))
    assert [(b.type, b.text) for b in blocks] == [
        ("list", "- first point that wraps onto a second line and a third one\n- second point")
    ]
