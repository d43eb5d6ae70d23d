"""Plain text of a Document: the blocks' text in reading order, without Markdown syntax.

Block text is parsed with markdown-it and only its text is kept: inline syntax (links,
emphasis, escapes) in every block, list markers in lists, table rows as cells separated
by tabs. Block-level syntax is read only where the block type says it is there, so an
OCR'd line such as "1. Introduction" stays as it is. Figures give their captions; page
furniture is left out, as in the Markdown.
"""

from __future__ import annotations

import re
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

from docmill.document import PAGE_FURNITURE, Block, Document


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)  # the alt text
    return "".join(parts)


_LIST_MARKER = re.compile(r"^\s*(?:[-*+•]|\d{1,9}[.)])\s+")


def inline_text(markdown: str) -> str:
    """One line of Markdown without its inline syntax."""
    tokens = _parser().parseInline(markdown)
    return " ".join(_inline_text(tokens[0]).split()) if tokens else ""


def table_text(markdown: str) -> str:
    """The text of a Markdown fragment holding a table: one line per row (cells separated
    by tabs), other paragraphs as lines."""
    lines: list[str] = []
    row: list[str] | None = None
    for token in _parser().parse(markdown):
        if token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            lines.append("\t".join(row))
            row = None
        elif token.type == "inline":
            text = _inline_text(token)
            if row is not None:
                row.append(" ".join(text.split()))
            elif text.strip():
                lines.append(text.strip())
        elif token.type in ("fence", "code_block") and token.content.strip():
            lines.append(token.content.rstrip("\n"))
    return "\n".join(lines)


def block_text(block: Block) -> str:
    """A block's plain text ('' for page furniture)."""
    if block.type in PAGE_FURNITURE:
        return ""
    if block.type == "figure":
        return inline_text(block.caption or "")
    if block.type == "equation":
        return (block.latex or block.text).strip()
    if block.type == "table":
        return table_text(block.text) if block.text.strip() else inline_text(block.caption or "")
    lines = block.text.splitlines()
    if block.type == "list":
        lines = [_LIST_MARKER.sub("", line) for line in lines]
    return "\n".join(text for text in map(inline_text, lines) if text)


def render_text(document: Document) -> str:
    """The document as plain text, blocks in reading order separated by blank lines."""
    parts = [block_text(block) for block in sorted(document.blocks, key=lambda b: b.order)]
    body = "\n\n".join(part for part in parts if part)
    return body + "\n" if body else ""
