"""render_markdown: the Markdown body derived from blocks."""

from __future__ import annotations

from docmill.document import (
    Block,
    BlockType,
    Document,
    EngineInfo,
    ImageRef,
    Source,
    render_markdown,
)

BOX = (10.0, 10.0, 100.0, 20.0)


def block(order: int, type_: BlockType, text: str = "", **fields: object) -> Block:
    return Block(id=f"b{order}", page=0, order=order, type=type_, bbox=BOX, text=text, **fields)  # type: ignore[arg-type]


def test_title_levels_become_heading_marks() -> None:
    blocks = [
        block(0, "title", "Main", level=1),
        block(1, "title", "Section", level=2),
        block(2, "title", "Default level"),
        block(3, "title", "Too deep", level=9),
        block(4, "title", "Multi\nline   title", level=3),
    ]
    assert render_markdown(blocks, []) == (
        "# Main\n\n## Section\n\n## Default level\n\n###### Too deep\n\n### Multi line title\n"
    )


def test_blocks_follow_order_not_list_position() -> None:
    blocks = [block(2, "text", "third"), block(0, "text", "first"), block(1, "text", "second")]
    assert render_markdown(blocks, []) == "first\n\nsecond\n\nthird\n"


def test_headers_and_footers_are_left_out() -> None:
    blocks = [
        block(0, "header", "Running head"),
        block(1, "text", "Body"),
        block(2, "footer", "Page 1"),
    ]
    assert render_markdown(blocks, []) == "Body\n"


def test_figures_reference_their_image_path() -> None:
    images = [ImageRef(name="p1_fig1.png", page=0, bbox=BOX, path="images/p1_fig1.png")]
    blocks = [
        block(0, "figure", image="p1_fig1.png", caption="A [chart]\nof sales"),
        block(1, "figure_caption", "Figure 1: sales"),
        block(2, "figure", "fallback text", image="missing.png"),
    ]
    assert render_markdown(blocks, images) == (
        "![A chart of sales](images/p1_fig1.png)\n\n*Figure 1: sales*\n\nfallback text\n"
    )


def test_tables_prefer_markdown_then_html_then_image() -> None:
    images = [ImageRef(name="t.png", page=0, bbox=BOX, path="images/t.png")]
    blocks = [
        block(0, "table", "| a | b |\n| --- | --- |\n| 1 | 2 |", html="<table></table>"),
        block(1, "table", html="<table><tr><td>x</td></tr></table>"),
        block(2, "table", image="t.png"),
        block(3, "table_caption", "Table 1"),
    ]
    assert render_markdown(blocks, images) == (
        "| a | b |\n| --- | --- |\n| 1 | 2 |\n\n"
        "<table><tr><td>x</td></tr></table>\n\n"
        "![table](images/t.png)\n\n"
        "*Table 1*\n"
    )


def test_equations_use_latex_when_present() -> None:
    blocks = [block(0, "equation", latex=" E = mc^2 "), block(1, "equation", "x + y")]
    assert render_markdown(blocks, []) == "$$\nE = mc^2\n$$\n\nx + y\n"


def test_empty_document_renders_empty_string() -> None:
    assert render_markdown([], []) == ""
    assert render_markdown([block(0, "text", "   "), block(1, "title", "")], []) == ""


def test_document_markdown_property_matches_render() -> None:
    document = Document(
        source=Source(filename="a.pdf"),
        engine=EngineInfo(name="pdf_text"),
        blocks=[block(0, "title", "Hello", level=1), block(1, "list", "- item")],
    )
    assert document.markdown == "# Hello\n\n- item\n"
