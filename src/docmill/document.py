"""The Document: the one type every engine produces and every reader consumes.

Markdown is derived from blocks (`render_markdown`), never the other way round.
Coordinates are PDF points (1 px = 1 pt for images), origin top-left.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

BlockType = Literal[
    "title",
    "text",
    "list",
    "table",
    "figure",
    "figure_caption",
    "table_caption",
    "equation",
    "header",
    "footer",
    "reference",
]

# Kept as blocks (for overlays) but left out of the Markdown body.
PAGE_FURNITURE: frozenset[str] = frozenset({"header", "footer"})

BBox = tuple[float, float, float, float]


class Source(BaseModel):
    filename: str
    sha256: str = ""
    mime: str = ""
    pages: int = 0


class EngineInfo(BaseModel):
    name: str
    version: str = ""
    options: dict[str, object] = Field(default_factory=dict)


# Where a word's text came from: recognised in pixels, or read from the PDF's own text.
WordSource = Literal["ocr", "text_layer"]


class Word(BaseModel):
    """One word as printed on the page, for the searchable PDF and word-level overlays.

    `bbox` is tight around the word, in page points (top-left origin). `line` numbers the
    page's text lines in reading order: words sharing it form one line, left to right.
    """

    text: str
    bbox: BBox
    line: int = 0
    source: WordSource = "ocr"
    confidence: float | None = None


class Page(BaseModel):
    index: int  # 0-based
    width: float
    height: float
    preview: str | None = None  # path relative to the task folder, if rendered
    #: Every word of the page in reading order (empty when the engine gives none).
    words: list[Word] = Field(default_factory=list)


class Block(BaseModel):
    id: str
    page: int  # 0-based
    order: int  # global reading order, 0-based
    type: BlockType
    bbox: BBox
    text: str = ""  # Markdown
    html: str | None = None  # tables
    latex: str | None = None  # equations
    image: str | None = None  # image name (key into Document.images), figures/tables/equations
    caption: str | None = None
    level: int | None = None  # title level, 1-based
    confidence: float | None = None


class ImageRef(BaseModel):
    name: str  # unique within the document, e.g. "p1_fig3.png"
    page: int
    bbox: BBox
    path: str  # relative to the task folder, e.g. "images/p1_fig3.png"


class Document(BaseModel):
    source: Source
    engine: EngineInfo
    pages: list[Page] = Field(default_factory=list)
    blocks: list[Block] = Field(default_factory=list)
    images: list[ImageRef] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    #: What the file says about itself: an HTML title, an e-mail's subject, from, to, date.
    metadata: dict[str, str] = Field(default_factory=dict)

    @property
    def markdown(self) -> str:
        return render_markdown(self.blocks, self.images)


def _image_markdown(block: Block, images: dict[str, ImageRef]) -> str:
    ref = images.get(block.image or "")
    if ref is None:
        return ""
    alt = (block.caption or block.type).replace("\n", " ").replace("[", "").replace("]", "")
    return f"![{alt}]({ref.path})"


def render_block(block: Block, images: dict[str, ImageRef]) -> str:
    """Markdown for one block ('' for page furniture and empty blocks)."""
    if block.type in PAGE_FURNITURE:
        return ""
    text = block.text.strip()
    if block.type == "title":
        level = min(max(block.level or 2, 1), 6)
        return f"{'#' * level} {' '.join(text.split())}" if text else ""
    if block.type == "equation":
        if block.latex:
            return f"$$\n{block.latex.strip()}\n$$"
        return _image_markdown(block, images) or text
    if block.type == "figure":
        return _image_markdown(block, images) or text
    if block.type == "table":
        if text:
            return text
        if block.html:
            return block.html
        return _image_markdown(block, images)
    if block.type in ("figure_caption", "table_caption"):
        return f"*{text}*" if text else ""
    return text


def render_markdown(blocks: list[Block], images: list[ImageRef]) -> str:
    """The Markdown body: blocks in reading order, page furniture left out."""
    by_name = {image.name: image for image in images}
    parts = [render_block(block, by_name) for block in sorted(blocks, key=lambda b: b.order)]
    body = "\n\n".join(part for part in parts if part)
    return body + "\n" if body else ""
