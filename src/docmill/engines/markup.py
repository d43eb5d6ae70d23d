"""The `markup` engine: HTML, Markdown and e-mail parsed natively into a Document, no OCR.

HTML goes through a real HTML5 parser (selectolax/Lexbor) and its elements become blocks:
headings, paragraphs, lists, tables, block quotes, code, and figures for the images the
page refers to. Nothing is ever fetched from the network: an image given inline as a
`data:` URI (or, in an e-mail, as a `cid:` part) is decoded under a size cap and saved;
any other image stays a reference in the Markdown. Markdown is rendered to HTML by
markdown-it-py and read the same way. An e-mail's headers become the Document's metadata
and its body (the HTML part when there is one, else the text) the document.

Blocks have no position on a page (no pages at all): bbox is (0, 0, 0, 0) and page 0.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import html as html_lib
import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from docmill.document import Block, BlockType, Document, EngineInfo, ImageRef, Source
from docmill.engines.base import ConvertOptions, EngineError, ProgressCallback, no_progress

ENGINE_VERSION = "1.0"
# Inline images (data: and cid:) larger than this are left out; so are those past the total.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGES_BYTES = 50 * 1024 * 1024
MAX_IMAGES = 500
IMAGE_FORMATS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp", "BMP": "png"}
SKIPPED_TAGS = frozenset(
    {"script", "style", "noscript", "template", "head", "iframe", "object", "embed", "svg",
     "canvas", "form", "button", "select", "textarea", "input", "math", "nav"}
)  # fmt: skip
HEADINGS = {f"h{n}": n for n in range(1, 7)}
CONTAINERS = frozenset(
    {"html", "body", "div", "section", "article", "main", "header", "footer", "aside",
     "figure", "center", "details", "summary", "dl", "dd", "dt", "address", "hgroup", "tbody"}
)  # fmt: skip
_ESCAPED = re.compile(r"([\\`*_\[\]<>|])")


def escape(text: str) -> str:
    """Text with the characters Markdown would read as syntax escaped."""
    return _ESCAPED.sub(r"\\\1", text)


@dataclass
class _Images:
    """Inline images decoded and written under `out_dir/images/`, within the caps."""

    out_dir: Path
    resources: dict[str, bytes] = field(default_factory=dict)  # cid → bytes (e-mail)
    refs: list[ImageRef] = field(default_factory=list)
    total: int = 0
    warnings: list[str] = field(default_factory=list)

    def save(self, source: str) -> ImageRef | None:
        """The image behind `source` if it is inline (data:, cid:) and a real image."""
        data = self._inline_bytes(source)
        if data is None:
            return None
        if len(data) > MAX_IMAGE_BYTES or self.total + len(data) > MAX_IMAGES_BYTES:
            self.warnings.append("an inline image was left out: over the size limit")
            return None
        if len(self.refs) >= MAX_IMAGES:
            return None
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format or ""
                image.verify()
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            self.warnings.append("an inline image was left out: not a readable image")
            return None
        ext = IMAGE_FORMATS.get(fmt)
        if ext is None:
            return None
        if fmt == "BMP":
            with Image.open(io.BytesIO(data)) as image:
                buffer = io.BytesIO()
                image.save(buffer, format="PNG")
                data = buffer.getvalue()
        name = f"img{len(self.refs) + 1}.{ext}"
        target = self.out_dir / "images" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.total += len(data)
        ref = ImageRef(name=name, page=0, bbox=(0, 0, 0, 0), path=f"images/{name}")
        self.refs.append(ref)
        return ref

    def _inline_bytes(self, source: str) -> bytes | None:
        source = source.strip()
        if source.lower().startswith("cid:"):
            return self.resources.get(source[4:].strip("<>"))
        if not source.lower().startswith("data:"):
            return None
        header, _, payload = source[5:].partition(",")
        if not header.lower().startswith("image/"):
            return None
        if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 4:
            self.warnings.append("an inline image was left out: over the size limit")
            return None
        try:
            if header.lower().endswith(";base64"):
                return base64.b64decode(payload, validate=False)
            return unquote_to_bytes(payload)
        except (binascii.Error, ValueError):
            return None


class _Builder:
    """Walks an HTML tree and collects blocks in document order."""

    def __init__(self, images: _Images) -> None:
        self.images = images
        self.blocks: list[tuple[BlockType, str, dict[str, Any]]] = []
        self._inline: list[str] = []

    # -- blocks --------------------------------------------------------------------

    def add(self, kind: BlockType, text: str, **extra: Any) -> None:
        if text.strip() or extra.get("image"):
            self.blocks.append((kind, text.strip(), extra))

    def flush(self) -> None:
        text = _tidy("".join(self._inline))
        self._inline = []
        self.add("text", text)

    def walk(self, node: Any) -> None:
        child = node.child
        while child is not None:
            self.element(child)
            child = child.next
        self.flush()

    def element(self, node: Any) -> None:
        tag = node.tag
        if tag == "-text":
            self._inline.append(_inline_space(node.text(deep=False)))
        elif tag in SKIPPED_TAGS or tag in ("-comment", "!doctype"):
            return
        elif tag in HEADINGS:
            self.flush()
            self.add("title", _tidy(self.inline(node)), level=HEADINGS[tag])
        elif tag == "p":
            self.flush()
            self._inline.append(self.inline(node))
            self.flush()
        elif tag in ("ul", "ol"):
            self.flush()
            self.add("list", "\n".join(self.list_lines(node, 0)))
        elif tag == "table":
            self.flush()
            self.table(node)
        elif tag == "img":
            self.flush()
            self.image(node)
        elif tag == "pre":
            self.flush()
            code = node.text(deep=True).strip("\n")
            fence = "````" if "```" in code else "```"
            self.add("text", f"{fence}\n{code}\n{fence}")
        elif tag == "blockquote":
            self.flush()
            inner = _Builder(self.images)
            inner.walk(node)
            quoted = "\n>\n".join(
                "\n".join(f"> {line}" for line in text.splitlines()) for _, text, _ in inner.blocks
            )
            self.add("text", quoted)
        elif tag == "hr":
            self.flush()
        elif tag == "figcaption":
            self.flush()
            self.add("figure_caption", _tidy(self.inline(node)))
        elif tag in CONTAINERS or _has_blocks(node):
            self.flush()
            self.walk(node)
        else:
            self._inline.append(self.inline(node))

    def image(self, node: Any) -> None:
        attributes = node.attributes
        source = attributes.get("src") or ""
        alt = _tidy(attributes.get("alt") or attributes.get("title") or "")
        ref = self.images.save(source)
        if ref is not None:
            self.add("figure", "", image=ref.name, caption=alt or None)
        elif source and not source.lower().startswith(("data:", "cid:", "javascript:")):
            # A reference stays a reference: docmill never fetches it.
            self.add("figure", f"![{escape(alt)}]({_link_target(source)})", caption=alt or None)

    # -- inline --------------------------------------------------------------------

    def inline(self, node: Any) -> str:
        """The inline Markdown of a node's content; images inside become figure blocks
        after the current text."""
        parts: list[str] = []
        child = node.child
        while child is not None:
            parts.append(self.inline_node(child))
            child = child.next
        return "".join(parts)

    def inline_node(self, node: Any) -> str:
        tag = node.tag
        if tag == "-text":
            return _inline_space(escape(node.text(deep=False)))
        if tag in SKIPPED_TAGS or tag.startswith(("-", "!")):
            return ""
        if tag == "br":
            return "\n"
        if tag == "img":
            pending, self._inline = self._inline, []
            self.image(node)
            self._inline = pending
            return ""
        inner = self.inline(node)
        if not inner.strip():
            return inner
        if tag == "a":
            target = node.attributes.get("href") or ""
            if target and not target.lower().startswith(("javascript:", "data:")):
                return f"[{inner.strip()}]({_link_target(target)})"
            return inner
        if tag in ("strong", "b"):
            return f"**{inner.strip()}**"
        if tag in ("em", "i"):
            return f"*{inner.strip()}*"
        if tag == "code":
            code = node.text(deep=True)
            return f"`{code}`" if "`" not in code else f"`` {code} ``"
        return inner

    # -- lists and tables ----------------------------------------------------------

    def list_lines(self, node: Any, depth: int) -> list[str]:
        lines: list[str] = []
        ordered = node.tag == "ol"
        for number, item in enumerate(_children(node, "li"), start=1):
            marker = f"{number}." if ordered else "-"
            text_parts: list[str] = []
            nested: list[str] = []
            child = item.child
            while child is not None:
                if child.tag in ("ul", "ol"):
                    nested.extend(self.list_lines(child, depth + 1))
                elif child.tag == "p":
                    text_parts.append(" " + self.inline(child))
                else:
                    text_parts.append(self.inline_node(child))
                child = child.next
            text = " ".join(_tidy("".join(text_parts)).split())
            lines.append(f"{'  ' * depth}{marker} {text}".rstrip())
            lines.extend(nested)
        return lines

    def table(self, node: Any) -> None:
        rows: list[list[str]] = []
        header = False
        for row in node.css("tr"):
            if _closest_table(row) != node.mem_id:
                continue  # rows of a nested table
            cells = [c for c in _element_children(row) if c.tag in ("td", "th")]
            if not cells:
                continue
            if not rows:
                header = all(cell.tag == "th" for cell in cells) or row.parent.tag == "thead"
            rows.append([" ".join(_tidy(self.inline(cell)).split()) for cell in cells])
        if not rows:
            return
        width = max(len(row) for row in rows)
        rows = [row + [""] * (width - len(row)) for row in rows]
        head, body = (rows[0], rows[1:]) if header else ([""] * width, rows)
        lines = [_table_row(head), "| " + " | ".join(["---"] * width) + " |"]
        lines += [_table_row(row) for row in body]
        html_rows = "".join(
            "<tr>" + "".join(f"<td>{html_lib.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in rows
        )
        caption = node.css_first("caption")
        self.add(
            "table",
            "\n".join(lines),
            html=f"<table>{html_rows}</table>",
            caption=_tidy(caption.text(deep=True)) if caption is not None else None,
        )


def _table_row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _closest_table(node: Any) -> int | None:
    """The identity (`mem_id`) of the table a row belongs to."""
    parent = node.parent
    while parent is not None and parent.tag != "table":
        parent = parent.parent
    return parent.mem_id if parent is not None else None


def _element_children(node: Any) -> list[Any]:
    children = []
    child = node.child
    while child is not None:
        if not child.tag.startswith("-"):
            children.append(child)
        child = child.next
    return children


def _children(node: Any, tag: str) -> list[Any]:
    return [child for child in _element_children(node) if child.tag == tag]


_BLOCK_TAGS = frozenset(
    {"p", "ul", "ol", "table", "pre", "blockquote", "hr", *HEADINGS, *CONTAINERS}
)


def _has_blocks(node: Any) -> bool:
    return any(child.tag in _BLOCK_TAGS for child in _element_children(node))


def _inline_space(text: str) -> str:
    return re.sub(r"[ \t\r\n\f]+", " ", text)


def _tidy(text: str) -> str:
    """Inline Markdown with spaces collapsed and line breaks kept."""
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return "\n".join(line for line in lines if line).strip()


def _link_target(target: str) -> str:
    target = target.strip()
    return f"<{target}>" if any(ch in target for ch in " ()") else target


def html_blocks(
    markup: str, out_dir: Path, resources: dict[str, bytes] | None = None
) -> tuple[list[Block], list[ImageRef], dict[str, str], list[str]]:
    """Blocks, saved images, metadata (title) and warnings of an HTML document."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(markup)
    images = _Images(out_dir, dict(resources or {}))
    builder = _Builder(images)
    root = tree.body if tree.body is not None else tree.root
    if root is not None:
        builder.walk(root)
    metadata: dict[str, str] = {}
    title = tree.css_first("title")
    if title is not None and title.text(deep=True).strip():
        metadata["title"] = " ".join(title.text(deep=True).split())
    blocks = [
        Block(id=f"b{number}", page=0, order=number - 1, type=kind, bbox=(0, 0, 0, 0), text=text,
              **extra)
        for number, (kind, text, extra) in enumerate(builder.blocks, start=1)
    ]  # fmt: skip
    return blocks, images.refs, metadata, images.warnings


def markdown_html(text: str) -> str:
    """Markdown rendered to HTML by markdown-it-py (CommonMark with tables)."""
    from markdown_it import MarkdownIt

    return str(MarkdownIt("commonmark", {"html": True}).enable("table").render(text))


def _decode(data: bytes, charset: str | None = None) -> str:
    for encoding in (charset, "utf-8", "cp1252"):
        if not encoding:
            continue
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("utf-8", "replace")


MAIL_HEADERS = ("subject", "from", "to", "cc", "date", "message-id")


def read_email(path: Path) -> EmailMessage:
    """The parsed message. Raises EngineError for a file that is not one."""
    with path.open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise EngineError("The e-mail cannot be read.")
    return message


def _cid_resources(message: EmailMessage) -> dict[str, bytes]:
    resources: dict[str, bytes] = {}
    for part in message.walk():
        content_id = part.get("Content-ID")
        if content_id and part.get_content_maintype() == "image":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                resources[str(content_id).strip().strip("<>")] = payload
    return resources


def email_blocks(
    path: Path, out_dir: Path
) -> tuple[list[Block], list[ImageRef], dict[str, str], list[str]]:
    """Blocks of the e-mail's body (HTML preferred, else text) and its headers as metadata."""
    message = read_email(path)
    metadata = {name: str(message[name]) for name in MAIL_HEADERS if message[name] is not None}
    body = message.get_body(preferencelist=("html", "plain"))
    if body is None:
        return [], [], metadata, ["the e-mail has no text or HTML body"]
    payload = body.get_payload(decode=True)
    text = _decode(payload if isinstance(payload, bytes) else b"", body.get_content_charset())
    if body.get_content_subtype() == "html":
        markup = text
    else:
        paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
        markup = "".join(
            "<p>" + "<br>".join(html_lib.escape(line) for line in p.splitlines()) + "</p>"
            for p in paragraphs
        )
    blocks, images, title, warnings = html_blocks(markup, out_dir, _cid_resources(message))
    return blocks, images, {**title, **metadata}, warnings


Reader = Callable[[Path, Path], tuple[list[Block], list[ImageRef], dict[str, str], list[str]]]


def _reader(path: Path) -> tuple[str, Reader]:
    from docmill.pipeline.filetypes import identify

    with path.open("rb") as handle:
        head = handle.read(1024)
    kind = identify(path, head, path.name)
    if kind.family == "email":
        return kind.mime, email_blocks
    if kind.file_type == "markdown":
        return kind.mime, lambda p, out: html_blocks(markdown_html(_decode(p.read_bytes())), out)
    if kind.file_type == "html":
        return kind.mime, lambda p, out: html_blocks(_decode(p.read_bytes()), out)
    raise EngineError("The markup engine reads HTML, Markdown and e-mail files only.")


class MarkupEngine:
    """HTML, Markdown and e-mail to a Document, natively (no pages, no OCR)."""

    name = "markup"
    version = ENGINE_VERSION
    kind = "cpu"

    def convert(
        self,
        path: Path,
        out_dir: Path,
        options: ConvertOptions,
        progress: ProgressCallback = no_progress,
    ) -> Document:
        """The Document of the HTML, Markdown or e-mail file at `path`; inline images go
        to `out_dir/images/`. Raises EngineError for other files."""
        from docmill.errors import DocmillError

        started = time.perf_counter()
        progress(0, 1)
        try:
            mime, read = _reader(path)
        except DocmillError as exc:
            raise EngineError(exc.message) from exc
        blocks, images, metadata, warnings = read(path, out_dir)
        progress(1, 1)
        return Document(
            source=Source(filename=path.name, mime=mime, pages=0),
            engine=EngineInfo(name=self.name, version=self.version),
            blocks=blocks,
            images=images,
            metadata=metadata,
            warnings=warnings,
            timings={"total": round(time.perf_counter() - started, 4)},
        )
