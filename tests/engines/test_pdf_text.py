"""The pdf_text engine on PDFs with known text (generated) and on the study_notes fixture."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
import pytest

from docmill.document import Block, Document
from docmill.engines import get_engine
from docmill.engines.base import Cancelled, ConvertOptions, Engine, EngineError
from docmill.engines.pdf_text import NoTextLayer, PdfTextEngine, convert_text_page
from docmill.engines.textlayer import extract_page_lines, page_has_text_layer
from tests.support import pdfgen
from tests.support.pdfgen import SamplePdf

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"


def convert(sample: SamplePdf, tmp_path: Path, **options: object) -> Document:
    path = sample.write(tmp_path / "input.pdf")
    return PdfTextEngine().convert(path, tmp_path / "out", ConvertOptions(**options))  # type: ignore[arg-type]


def body(document: Document) -> list[Block]:
    return [block for block in document.blocks if block.type not in ("header", "footer")]


def test_engine_matches_protocol_and_registry() -> None:
    engine = get_engine("pdf_text")
    assert isinstance(engine, Engine)
    assert (engine.name, engine.kind) == ("pdf_text", "cpu")


def test_single_column_title_and_paragraphs(tmp_path: Path) -> None:
    sample = pdfgen.single_column_pdf()
    document = convert(sample, tmp_path)

    blocks = body(document)
    assert blocks[0].type == "title"
    assert blocks[0].level == 1
    assert blocks[0].text == sample.title
    assert [block.text for block in blocks[1:]] == list(sample.paragraphs)
    assert all(block.type == "text" for block in blocks[1:])
    assert document.markdown.startswith(f"# {sample.title}\n\n{sample.paragraphs[0]}\n\n")


def test_document_metadata(tmp_path: Path) -> None:
    sample = pdfgen.header_footer_pdf(pages=2)
    document = convert(sample, tmp_path)

    assert document.source.filename == "input.pdf"
    assert document.source.mime == "application/pdf"
    assert document.source.pages == 2
    assert len(document.source.sha256) == 64
    assert document.engine.name == "pdf_text"
    assert [(p.index, round(p.width), round(p.height)) for p in document.pages] == [
        (0, 595, 842),
        (1, 595, 842),
    ]
    assert document.timings["total"] >= document.timings["extract"] > 0
    assert [block.order for block in document.blocks] == list(range(len(document.blocks)))
    assert len({block.id for block in document.blocks}) == len(document.blocks)


def test_two_columns_read_column_by_column(tmp_path: Path) -> None:
    sample = pdfgen.two_column_pdf()
    document = convert(sample, tmp_path)

    blocks = body(document)
    assert blocks[0].type == "title"
    assert [block.text for block in blocks[1:]] == list(sample.paragraphs)
    left, right = blocks[1:3], blocks[3:5]
    assert max(block.bbox[2] for block in left) < min(block.bbox[0] for block in right)


def test_header_and_footer_are_blocks_but_not_markdown(tmp_path: Path) -> None:
    sample = pdfgen.header_footer_pdf(pages=3)
    document = convert(sample, tmp_path)

    headers = [block for block in document.blocks if block.type == "header"]
    footers = [block for block in document.blocks if block.type == "footer"]
    assert [(block.page, block.text) for block in headers] == [
        (page, text) for page, text in enumerate(sample.headers)
    ]
    assert [(block.page, block.text) for block in footers] == [
        (page, text) for page, text in enumerate(sample.footers)
    ]
    assert [block.text for block in body(document)] == list(sample.paragraphs)
    assert sample.headers[0] not in document.markdown
    assert "Page 2 of 3" not in document.markdown
    assert sample.paragraphs[1] in document.markdown


def test_hyphenated_line_ends_are_joined(tmp_path: Path) -> None:
    sample = pdfgen.hyphenated_pdf()
    document = convert(sample, tmp_path)

    assert [block.text for block in document.blocks] == list(sample.paragraphs)
    assert "examine" in document.markdown and "meeting" in document.markdown


@pytest.mark.skipif(pdfgen.find_cjk_font() is None, reason="no CJK font (fc-list :lang=zh)")
def test_chinese_lines_join_without_spaces(tmp_path: Path) -> None:
    font = pdfgen.find_cjk_font()
    assert font is not None
    sample = pdfgen.cjk_pdf(font)
    document = convert(sample, tmp_path)

    assert [block.text for block in document.blocks] == list(sample.paragraphs)
    assert " " not in document.blocks[0].text


def test_bboxes_are_sane_and_title_is_where_it_was_drawn(tmp_path: Path) -> None:
    sample = pdfgen.single_column_pdf()
    document = convert(sample, tmp_path)
    page = document.pages[0]

    for block in document.blocks:
        x0, y0, x1, y1 = block.bbox
        assert 0 <= x0 < x1 <= page.width
        assert 0 <= y0 < y1 <= page.height
    title = document.blocks[0]
    assert sample.title_bbox is not None
    drawn_x0, drawn_y0, drawn_x1, drawn_baseline = sample.title_bbox
    assert title.bbox[0] == pytest.approx(drawn_x0, abs=2)
    assert title.bbox[2] == pytest.approx(drawn_x1, abs=3)
    assert drawn_y0 - 4 <= title.bbox[1] <= drawn_baseline
    assert drawn_baseline <= title.bbox[3] <= drawn_baseline + 0.3 * pdfgen.TITLE_SIZE
    # paragraphs follow the title down the page
    assert all(block.bbox[1] > title.bbox[3] for block in document.blocks[1:])


def test_study_notes_converts() -> None:
    path = FIXTURES / "study_notes.pdf"
    if not path.exists():
        pytest.skip("study_notes.pdf fixture not found")
    seen: list[tuple[int, int]] = []
    document = PdfTextEngine().convert(
        path, path.parent, ConvertOptions(), lambda done, total: seen.append((done, total))
    )

    assert document.source.pages == 31
    assert len(document.pages) == 31
    assert seen == [(n, 31) for n in range(1, 32)]
    assert len(document.markdown) > 10_000
    assert "财务困境" in document.markdown
    assert "financial distress" in document.markdown
    assert document.blocks[0].type == "title"
    # the "- n -" page numbers are footers on every page and stay out of the Markdown
    footers = [block for block in document.blocks if block.type == "footer"]
    assert {block.page for block in footers} == set(range(31))
    assert "- 1 -" not in document.markdown
    assert {block.page for block in document.blocks} == set(range(31))


def test_scanned_page_raises_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"page 1 has no text layer .*OCR engine"):
        convert(pdfgen.scanned_pdf(), tmp_path)


def test_mixed_pdf_can_be_routed_per_page(tmp_path: Path) -> None:
    sample = pdfgen.mixed_pdf()
    path = sample.write(tmp_path / "mixed.pdf")
    with pytest.raises(NoTextLayer, match="page 2 has no text layer") as caught:
        PdfTextEngine().convert(path, tmp_path, ConvertOptions())
    assert caught.value.page_index == 1

    pdf = pdfium.PdfDocument(path)
    try:
        assert page_has_text_layer(pdf[0])
        assert not page_has_text_layer(pdf[1])
        assert [block.text for block in convert_text_page(pdf[0], 0)] == list(sample.paragraphs)
        assert [line.text for line in extract_page_lines(pdf[0])] == list(sample.paragraphs)
        with pytest.raises(NoTextLayer):
            convert_text_page(pdf[1], 1)
    finally:
        pdf.close()


def test_blank_page_gives_no_blocks(tmp_path: Path) -> None:
    document = convert(pdfgen.blank_pdf(), tmp_path)
    assert document.blocks == []
    assert document.markdown == ""


def test_cancel_from_progress_propagates(tmp_path: Path) -> None:
    path = pdfgen.header_footer_pdf(pages=3).write(tmp_path / "three.pdf")
    calls: list[int] = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        if done == 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        PdfTextEngine().convert(path, tmp_path, ConvertOptions(), progress)
    assert calls == [1, 2]


def test_too_many_pages_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="3 pages; at most 2"):
        convert(pdfgen.header_footer_pdf(pages=3), tmp_path, max_pages=2)


def test_image_input_needs_ocr_engine(tmp_path: Path) -> None:
    path = tmp_path / "picture.png"
    path.write_bytes(pdfgen.png_bytes())
    with pytest.raises(EngineError, match="images need the OCR engine"):
        PdfTextEngine().convert(path, tmp_path, ConvertOptions())


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="password-protected"):
        convert(pdfgen.encrypted_pdf(), tmp_path)


def test_damaged_pdf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage without end")
    with pytest.raises(EngineError, match="cannot be read"):
        PdfTextEngine().convert(path, tmp_path, ConvertOptions())


def test_not_a_pdf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just text")
    with pytest.raises(EngineError, match="not a PDF"):
        PdfTextEngine().convert(path, tmp_path, ConvertOptions())


def test_line_split_over_text_objects_stays_one_line(tmp_path: Path) -> None:
    sample = pdfgen.split_objects_pdf()
    document = convert(sample, tmp_path)

    assert [block.text for block in document.blocks] == list(sample.paragraphs)
