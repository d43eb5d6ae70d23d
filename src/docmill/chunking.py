"""Chunks of a Document for retrieval (RAG), cut along its heading structure.

The rules (README "Chunks for RAG" says the same for users):

- Content blocks are the blocks of the Markdown body in reading order, rendered as in
  `document.md`; page headers, footers and empty blocks are left out.
- A title block opens a section at its level (1–6; a title without a level is 2) and
  closes every open section of the same or a deeper level. Blocks before the first title
  belong to the document itself.
- A section *fits* when its whole text (heading, own blocks and all its subsections,
  joined by blank lines) is within the budget: `max_tokens`, less `overlap` (+1 for the
  blank line after it) when overlap is asked for.
- A section that fits is never split: all its blocks are in one chunk.
- A section that does not fit is cut: its heading and the blocks before its first
  subsection are packed in order, then each subsection follows by the same rules.
- Neighbours at one level (blocks of a cut section, subsections that fit) are merged
  greedily into one chunk while it stays within the budget; a subsection that is cut
  starts and ends its own chunks.
- A chunk's `heading_path` is the deepest section holding all of its blocks.
- One block over the budget is split: a Markdown table by rows, with its header and
  separator lines repeated in every part; other text at sentence ends, then between
  words. Such a block is listed in each chunk that holds a part of it.
- With `overlap` N > 0, a chunk that continues the section of the chunk before it (same
  `heading_path`, not starting with a heading) begins with that chunk's last N tokens.

Tokens are counted with cl100k_base (`docmill.tokens`); every chunk's `tokens` is the
exact count of its `text` and is at most `max_tokens`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel

from docmill import tokens
from docmill.document import Block, Document, render_block

DEFAULT_MAX_TOKENS = 512
DEFAULT_OVERLAP = 0
MIN_MAX_TOKENS = 32
MAX_MAX_TOKENS = 8192
BLOCK_SEPARATOR = "\n\n"
DEFAULT_TITLE_LEVEL = 2

_SENTENCE_END = re.compile(r"(?<=[.!?;:。！？；])\s+")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")


class ChunkBlock(BaseModel):
    """A block a chunk was made from: its id, type, page (1-based) and box in PDF points."""

    id: str
    type: str
    page: int
    bbox: list[float]


class Chunk(BaseModel):
    index: int
    text: str
    heading_path: list[str]
    pages: list[int]
    blocks: list[ChunkBlock]
    tokens: int


@dataclass(frozen=True)
class _Piece:
    """A block's text, or a part of it when the block alone is over the budget."""

    block: Block
    text: str
    tokens: int
    path: tuple[str, ...]
    heading: bool


@dataclass
class _Section:
    level: int
    path: tuple[str, ...]
    lead: list[_Piece] = field(default_factory=list)
    children: list[_Section] = field(default_factory=list)

    def pieces(self) -> Iterator[_Piece]:
        yield from self.lead
        for child in self.children:
            yield from child.pieces()

    def tokens(self, separator: int) -> int:
        return _group_tokens(list(self.pieces()), separator)


def _group_tokens(pieces: list[_Piece], separator: int) -> int:
    """The tokens of pieces joined by blank lines (an estimate the exact count checks)."""
    return sum(piece.tokens for piece in pieces) + separator * max(len(pieces) - 1, 0)


def chunk_document(
    document: Document, max_tokens: int = DEFAULT_MAX_TOKENS, overlap: int = DEFAULT_OVERLAP
) -> list[Chunk]:
    """The document's chunks, in reading order (rules in the module docstring).
    CPU-bound: call it in a thread from async code. Raises ValueError for bad limits."""
    if not MIN_MAX_TOKENS <= max_tokens <= MAX_MAX_TOKENS:
        raise ValueError(f"max_tokens must be between {MIN_MAX_TOKENS} and {MAX_MAX_TOKENS}")
    if not 0 <= overlap <= max_tokens // 2:
        raise ValueError("overlap must be between 0 and half of max_tokens")
    separator = tokens.count(BLOCK_SEPARATOR)
    budget = max_tokens - (overlap + separator if overlap else 0)
    root = _sections(document, budget, separator)
    groups = _Packer(budget, separator).pack(root)
    return _finish(groups, max_tokens, overlap)


def _sections(document: Document, budget: int, separator: int) -> _Section:
    """The section tree of the document's content blocks."""
    images = {image.name: image for image in document.images}
    root = _Section(level=0, path=())
    open_sections = [root]
    for block in sorted(document.blocks, key=lambda b: b.order):
        text = render_block(block, images).strip()
        if not text:
            continue
        if block.type == "title":
            level = min(max(block.level or DEFAULT_TITLE_LEVEL, 1), 6)
            while open_sections[-1].level >= level:
                open_sections.pop()
            parent = open_sections[-1]
            heading = " ".join(block.text.split())
            section = _Section(level=level, path=(*parent.path, heading))
            parent.children.append(section)
            open_sections.append(section)
        section = open_sections[-1]
        # A block split right under its heading leaves room for the heading in its first
        # part, so that the heading does not end up alone.
        after_heading = len(section.lead) == 1 and section.lead[0].heading
        reserve = section.lead[0].tokens + separator if after_heading else 0
        section.lead.extend(_pieces(block, text, section.path, budget, reserve))
    return root


def _pieces(
    block: Block, text: str, path: tuple[str, ...], budget: int, reserve: int
) -> list[_Piece]:
    """The block as one piece, or in parts within `budget - reserve` when it is over the
    budget."""
    count = tokens.count(text)
    heading = block.type == "title"
    if count <= budget:
        return [_Piece(block, text, count, path, heading)]
    budget -= reserve
    lines = text.split("\n")
    if block.type == "table" and len(lines) > 2 and _TABLE_RULE.match(lines[1].strip()):
        parts = _split_table(lines, budget)
    else:
        parts = _split_text(text, budget)
    return [
        _Piece(block, part, tokens.count(part), path, heading and number == 0)
        for number, part in enumerate(parts)
    ]


def _pack(units: list[str], joiner: str, budget: int, head: str = "") -> list[str]:
    """`units` joined greedily into parts of at most `budget` tokens, `head` + joiner in
    front of each part when given. Sizes are added up per unit, then each part is counted
    exactly (and cut again if need be). A unit too big alone is left whole for the caller
    to split further."""
    step = tokens.count(joiner)
    start = tokens.count(head) + step if head else 0
    parts: list[list[str]] = []
    size = 0
    for unit in units:
        cost = tokens.count(unit) + step
        if parts and size + cost <= budget:
            parts[-1].append(unit)
            size += cost
        else:
            parts.append([unit])
            size = start + cost
    return [text for part in parts for text in _counted(part, joiner, budget, head)]


def _counted(part: list[str], joiner: str, budget: int, head: str) -> list[str]:
    """The part joined, or (over the budget when counted exactly) cut before its last unit."""
    text = joiner.join([head, *part] if head else part)
    if len(part) == 1 or tokens.count(text) <= budget:
        return [text]
    return [*_counted(part[:-1], joiner, budget, head), *_counted(part[-1:], joiner, budget, head)]


def _split_table(lines: list[str], budget: int) -> list[str]:
    """Rows in parts within the budget, each under the header and separator lines."""
    head = "\n".join(lines[:2])
    parts = _pack(lines[2:], "\n", budget, head)
    if all(tokens.count(part) <= budget for part in parts):
        return parts
    return _split_text("\n".join(lines), budget)  # a row alone is over the budget


def _split_text(text: str, budget: int) -> list[str]:
    """Text in parts within the budget: at sentence ends, then between words, then (a
    single word over the budget) between tokens."""
    parts: list[str] = []
    for sentence_part in _pack(_SENTENCE_END.split(text), " ", budget):
        if tokens.count(sentence_part) <= budget:
            parts.append(sentence_part)
            continue
        for word_part in _pack(sentence_part.split(), " ", budget):
            if tokens.count(word_part) <= budget:
                parts.append(word_part)
                continue
            ids = tokens.encode(word_part)
            parts.extend(tokens.decode(ids[i : i + budget]) for i in range(0, len(ids), budget))
    return [part.strip() for part in parts if part.strip()]


class _Packer:
    """Greedy packing of pieces into chunks, section by section."""

    def __init__(self, budget: int, separator: int) -> None:
        self.budget = budget
        self.separator = separator
        self.groups: list[list[_Piece]] = []
        self.current: list[_Piece] = []

    def pack(self, root: _Section) -> list[list[_Piece]]:
        if root.tokens(self.separator) <= self.budget:
            self._add(list(root.pieces()))
        else:
            self._cut(root)
        self._flush()
        return [group for chunk in self.groups for group in self._checked(chunk)]

    def _cut(self, section: _Section) -> None:
        for piece in section.lead:
            self._add([piece])
        for child in section.children:
            if child.tokens(self.separator) <= self.budget:
                self._add(list(child.pieces()))
            else:
                self._flush()
                self._cut(child)
                self._flush()

    def _add(self, pieces: list[_Piece]) -> None:
        """Pieces that stay together, after the current chunk if they fit there. A chunk
        does not end with a heading: one left last moves on with what follows it."""
        if self.current and _group_tokens(self.current + pieces, self.separator) > self.budget:
            carried = self.current[-1:] if self.current[-1].heading else []
            if carried and len(self.current) > 1:
                fits = _group_tokens(carried + pieces, self.separator) <= self.budget
                carried = carried if fits else []
            else:
                carried = []
            if carried:
                self.current = self.current[:-1]
            self._flush()
            self.current = carried
        self.current.extend(pieces)

    def _flush(self) -> None:
        if self.current:
            self.groups.append(self.current)
            self.current = []

    def _checked(self, group: list[_Piece]) -> list[list[_Piece]]:
        """The group, or (when the exact count is over the estimate's) the group cut in
        two before its last piece, checked again."""
        if len(group) == 1 or tokens.count(_join(group)) <= self.budget:
            return [group]
        return [*self._checked(group[:-1]), *self._checked(group[-1:])]


def _join(pieces: list[_Piece]) -> str:
    return BLOCK_SEPARATOR.join(piece.text for piece in pieces)


def _common_path(pieces: list[_Piece]) -> list[str]:
    path = list(pieces[0].path)
    for piece in pieces[1:]:
        keep = 0
        while keep < min(len(path), len(piece.path)) and path[keep] == piece.path[keep]:
            keep += 1
        path = path[:keep]
    return path


def _overlap_prefix(previous: str, body: str, overlap: int, max_tokens: int) -> str:
    """The last `overlap` tokens of `previous`, shortened until `prefix + body` fits."""
    tail = tokens.encode(previous)[-overlap:]
    while tail:
        prefix = tokens.decode(tail).lstrip("\ufffd").strip()
        if prefix and tokens.count(prefix + BLOCK_SEPARATOR + body) <= max_tokens:
            return prefix
        tail = tail[1:]
    return ""


def _finish(groups: list[list[_Piece]], max_tokens: int, overlap: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    previous_body = ""
    for index, group in enumerate(groups):
        body = _join(group)
        path = _common_path(group)
        text = body
        if overlap and chunks and chunks[-1].heading_path == path and not group[0].heading:
            prefix = _overlap_prefix(previous_body, body, overlap, max_tokens)
            text = prefix + BLOCK_SEPARATOR + body if prefix else body
        blocks: list[ChunkBlock] = []
        for piece in group:
            if not blocks or blocks[-1].id != piece.block.id:
                blocks.append(
                    ChunkBlock(
                        id=piece.block.id,
                        type=piece.block.type,
                        page=piece.block.page + 1,
                        bbox=[round(value, 2) for value in piece.block.bbox],
                    )
                )
        chunks.append(
            Chunk(
                index=index,
                text=text,
                heading_path=path,
                pages=sorted({block.page for block in blocks}),
                blocks=blocks,
                tokens=tokens.count(text),
            )
        )
        previous_body = body
    return chunks


def chunks_jsonl(chunks: list[Chunk]) -> bytes:
    """One JSON object a line (the `chunks.jsonl` of the result ZIP)."""
    return b"".join(chunk.model_dump_json().encode() + b"\n" for chunk in chunks)
