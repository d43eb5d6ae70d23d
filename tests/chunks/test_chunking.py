"""Chunks of a generated document with known sections follow the heading structure."""

from __future__ import annotations

import itertools

import pytest

from docmill import tokens
from docmill.chunking import Chunk, chunk_document
from docmill.document import Block, BlockType, Document, EngineInfo, Source, render_block


def _sentence(tag: str, n: int) -> str:
    return f"Paragraph {tag}-{n} explains one fact about the {tag} part in plain words."


def generated_document() -> Document:
    """Sections of known sizes: small ones, a big one (2.2), a big table (3) and page
    furniture on every page."""
    spec: list[tuple[BlockType, str, int | None]] = [
        ("text", "A preamble before any heading.", None),
        ("title", "1 Introduction", 1),
        *[("text", _sentence("intro", n), None) for n in range(2)],
        ("title", "2 Methods", 1),
        ("text", _sentence("methods", 0), None),
        ("title", "2.1 Data", 2),
        *[("text", _sentence("data", n), None) for n in range(3)],
        ("title", "2.2 Model", 2),
        *[("text", " ".join(_sentence(f"model{n}", k) for k in range(3)), None) for n in range(12)],
        ("title", "2.3 Training", 2),
        ("text", _sentence("training", 0), None),
        ("title", "3 Results", 1),
        ("table", _table(60), None),
        ("text", _sentence("results", 0), None),
        ("title", "4 Conclusion", 1),
        ("text", _sentence("conclusion", 0), None),
    ]
    blocks: list[Block] = []
    for order, (kind, text, level) in enumerate(spec):
        page = order // 8
        top = 60.0 + 30 * (order % 8)
        blocks.append(
            Block(
                id=f"b{order}",
                page=page,
                order=len(blocks),
                type=kind,
                bbox=(50.0, top, 500.0, top + 20),
                text=text,
                level=level,
            )
        )
    for page in range(blocks[-1].page + 1):
        for kind, top in (("header", 10.0), ("footer", 800.0)):
            blocks.append(
                Block(
                    id=f"{kind}{page}",
                    page=page,
                    order=len(blocks),
                    type=kind,  # type: ignore[arg-type]
                    bbox=(50.0, top, 500.0, top + 10),
                    text=f"Running {kind} of page {page + 1}",
                )
            )
    return Document(
        source=Source(filename="known.pdf"), engine=EngineInfo(name="test"), blocks=blocks
    )


def _table(rows: int) -> str:
    lines = ["| Run | Loss | Accuracy |", "| --- | --- | --- |"]
    lines += [f"| run {n} | 0.{n:03d} | {50 + n % 50}.{n % 10} percent |" for n in range(rows)]
    return "\n".join(lines)


def _sections(document: Document) -> list[list[Block]]:
    """Every section as the blocks it spans: from its title to the next title of the same
    or a higher level (written independently of the chunker)."""
    content = [b for b in document.blocks if b.type not in ("header", "footer")]
    sections = []
    for start, block in enumerate(content):
        if block.type != "title":
            continue
        end = start + 1
        while end < len(content) and not (
            content[end].type == "title" and (content[end].level or 2) <= (block.level or 2)
        ):
            end += 1
        sections.append(content[start:end])
    return sections


def _rendered(block: Block) -> str:
    return render_block(block, {})


def _where(chunks: list[Chunk], block_id: str) -> set[int]:
    return {chunk.index for chunk in chunks for b in chunk.blocks if b.id == block_id}


def test_the_tokenizer_is_cl100k_offline() -> None:
    assert tokens.encode("hello world") == [15339, 1917]
    assert tokens.count("Tokenizers ship their vocabulary.") == tokens.count(
        "Tokenizers ship their vocabulary."
    )


@pytest.mark.parametrize("max_tokens", [64, 128, 512])
def test_a_section_that_fits_is_never_split(max_tokens: int) -> None:
    document = generated_document()
    chunks = chunk_document(document, max_tokens=max_tokens)
    checked = 0
    for section in _sections(document):
        size = tokens.count("\n\n".join(_rendered(b) for b in section))
        if size <= max_tokens:
            holders = set().union(*(_where(chunks, b.id) for b in section))
            assert len(holders) == 1, f"{section[0].text} ({size} tokens) split over {holders}"
            checked += 1
    assert checked >= 3


@pytest.mark.parametrize("max_tokens", [64, 128, 512])
def test_every_block_is_in_exactly_one_chunk_within_the_limit(max_tokens: int) -> None:
    document = generated_document()
    chunks = chunk_document(document, max_tokens=max_tokens)
    for chunk in chunks:
        assert chunk.tokens == tokens.count(chunk.text)
        assert chunk.tokens <= max_tokens
    for block in document.blocks:
        if block.type in ("header", "footer"):
            assert not _where(chunks, block.id), "page furniture stays out of chunks"
            assert not any(block.text in chunk.text for chunk in chunks)
            continue
        text = _rendered(block)
        holders = [chunk.index for chunk in chunks if text in chunk.text]
        if tokens.count(text) <= max_tokens:
            assert holders == [
                chunk.index for chunk in chunks if block.id in {b.id for b in chunk.blocks}
            ]
            assert len(holders) == 1, f"{block.id} in chunks {holders}"


def test_headings_paths_pages_and_boxes() -> None:
    document = generated_document()
    chunks = chunk_document(document, max_tokens=128)
    by_block = {block.id: block for block in document.blocks}
    model = [c for c in chunks if "model3-" in c.text]
    assert model and all(c.heading_path == ["2 Methods", "2.2 Model"] for c in model)
    assert chunks[0].heading_path == [] and chunks[0].text.startswith("A preamble")
    for chunk in chunks:
        assert chunk.pages == sorted({by_block[b.id].page + 1 for b in chunk.blocks})
        for ref in chunk.blocks:
            assert ref.bbox == list(by_block[ref.id].bbox)
            assert ref.page == by_block[ref.id].page + 1
    # Small neighbours are merged: a chunk spanning several sections names the section
    # holding them all.
    (methods,) = [c for c in chunks if "# 2 Methods" in c.text]
    assert "## 2.1 Data" in methods.text and methods.heading_path == ["2 Methods"]
    assert "# 1 Introduction" in chunks[0].text and chunks[0].heading_path == []
    # A heading is not left alone at the end of a chunk.
    assert all(not c.text.rstrip().split("\n")[-1].startswith("#") for c in chunks)
    whole = chunk_document(document, max_tokens=8192)
    assert len(whole) == 1 and whole[0].heading_path == []


def test_a_big_table_is_split_by_rows_with_its_header_repeated() -> None:
    document = generated_document()
    table = next(b for b in document.blocks if b.type == "table")
    header, rule, *rows = table.text.split("\n")
    chunks = chunk_document(document, max_tokens=128)
    parts = [c for c in chunks if table.id in {b.id for b in c.blocks}]
    assert len(parts) > 2
    seen: list[str] = []
    for part in parts:
        assert part.tokens <= 128
        assert part.heading_path == ["3 Results"]
        lines = [line for line in part.text.split("\n") if line.startswith("|")]
        assert lines[:2] == [header, rule]
        seen.extend(lines[2:])
    assert seen == rows, "every row once, in order"


def test_overlap_repeats_the_end_of_the_previous_chunk() -> None:
    document = generated_document()
    plain = chunk_document(document, max_tokens=128)
    overlapping = chunk_document(document, max_tokens=128, overlap=24)
    assert all(c.tokens <= 128 for c in overlapping)
    continued = [
        (before, after)
        for before, after in itertools.pairwise(overlapping)
        if before.heading_path == after.heading_path == ["2 Methods", "2.2 Model"]
    ]
    assert continued
    for before, after in continued:
        start = after.text.split("\n\n", 1)[0]
        assert tokens.count(start) <= 25
        assert before.text.endswith(start[-20:])
    assert sum(c.tokens for c in overlapping) > sum(c.tokens for c in plain)


def test_bad_limits_are_refused() -> None:
    document = generated_document()
    for max_tokens, overlap in ((8, 0), (100_000, 0), (128, 100), (128, -1)):
        with pytest.raises(ValueError):
            chunk_document(document, max_tokens=max_tokens, overlap=overlap)
