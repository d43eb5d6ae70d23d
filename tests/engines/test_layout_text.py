"""Reading order, paragraphs and line joining on plain boxes (as OCR output would give)."""

from __future__ import annotations

from docmill.engines.furniture import PageLines, find_furniture, is_page_number
from docmill.engines.layout_text import (
    Line,
    group_paragraphs,
    join_lines,
    order_lines,
    reading_order,
)


def line(x0: float, y0: float, x1: float, text: str, size: float = 10.0) -> Line:
    return Line((x0, y0, x1, y0 + size), text, size)


def test_join_lines_undoes_hyphenation_and_keeps_real_hyphens() -> None:
    assert join_lines(["a well-known exam-", "ple of text"]) == "a well-known example of text"
    assert join_lines(["pages 10-", "20"]) == "pages 10-20"
    assert join_lines(["Anglo-", "Saxon"]) == "Anglo-Saxon"
    assert join_lines(["a dash -", "here"]) == "a dash - here"


def test_join_lines_puts_no_space_between_cjk_characters() -> None:
    assert join_lines(["在完美资本市场中，", "尽管企业"]) == "在完美资本市场中，尽管企业"
    assert join_lines(["日本語の", "テキスト"]) == "日本語のテキスト"
    assert join_lines(["中文", "English"]) == "中文 English"
    assert join_lines(["  spaced   out ", "", "text"]) == "spaced out text"


def test_reading_order_two_columns_under_a_full_width_title() -> None:
    boxes = [
        (300.0, 100.0, 500.0, 110.0),  # right column, line 1
        (50.0, 100.0, 250.0, 110.0),  # left column, line 1
        (50.0, 40.0, 500.0, 60.0),  # title across both columns
        (50.0, 114.0, 250.0, 124.0),  # left column, line 2
        (300.0, 114.0, 500.0, 124.0),  # right column, line 2
        (50.0, 300.0, 500.0, 310.0),  # full-width line below both columns
        (300.0, 140.0, 500.0, 150.0),  # right column, after a paragraph gap
        (50.0, 140.0, 250.0, 150.0),  # left column, gap at the same height
    ]
    assert reading_order(boxes, min_gutter=10.0) == [2, 1, 3, 7, 0, 4, 6, 5]


def test_reading_order_single_column_is_top_to_bottom() -> None:
    boxes = [(50.0, 200.0, 400.0, 210.0), (50.0, 100.0, 400.0, 110.0), (60.0, 150.0, 90.0, 160.0)]
    assert reading_order(boxes, min_gutter=10.0) == [1, 2, 0]


def test_group_paragraphs_splits_on_gap_size_and_bullets() -> None:
    lines = order_lines(
        [
            line(50, 40, 300, "A Heading", size=18),
            line(50, 70, 400, "first paragraph line one"),
            line(50, 83, 400, "first paragraph line two"),
            line(50, 96, 200, "ends here."),
            line(50, 125, 400, "second paragraph"),
            line(50, 150, 400, "• a bullet item"),
            line(60, 163, 400, "continued under the bullet"),
            line(50, 176, 400, "• second bullet"),
        ]
    )
    texts = [join_lines([item.text for item in group]) for group in group_paragraphs(lines)]
    assert texts == [
        "A Heading",
        "first paragraph line one first paragraph line two ends here.",
        "second paragraph",
        "• a bullet item continued under the bullet",
        "• second bullet",
    ]


def test_furniture_repeated_lines_and_page_numbers() -> None:
    pages = [
        PageLines(
            800.0,
            [
                line(50, 20, 300, "Journal of Tests, vol. 3"),
                line(50, 300, 500, f"body text {n}"),
                line(280, 770, 320, str(n)),
            ],
        )
        for n in range(1, 4)
    ]
    marks = find_furniture(pages)
    assert marks == [{0: "header", 2: "footer"}] * 3
    assert is_page_number("- 12 -") and is_page_number("Page 3 of 9") and is_page_number("iv")
    assert not is_page_number("Chapter 2 starts here")


def test_a_single_top_line_is_not_furniture() -> None:
    pages = [PageLines(800.0, [line(50, 20, 300, "Only once at the top")])] + [
        PageLines(800.0, [line(50, 300, 300, "body")]) for _ in range(3)
    ]
    assert find_furniture(pages) == [{}, {}, {}, {}]
