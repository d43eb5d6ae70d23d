"""An unpacked MonkeyOCR result → docmill Document.

`*_middle.json` gives pages, blocks and boxes; without it `*_content_list.json`,
and without that the Markdown, give blocks without boxes. Both the `zip_all` layout
(files at the top) and the split layout (`page_<i>/` folders) are read. Blocking:
call it in a thread.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docmill.document import BBox, Block, BlockType, Document, EngineInfo, ImageRef, Page, Source
from docmill.engines.base import EngineError
from docmill.engines.monkeyocr.tables import clean_html, parse_table, to_markdown

IMAGE_DIR = "images"
MAX_JSON_BYTES = 200 * 1024 * 1024
_SAFE_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.(jpg|jpeg|png|webp)$", re.IGNORECASE)
_PAGE_DIR = re.compile(r"^page_(\d+)$")
_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef]")
_MAGIC = {
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "webp": (b"RIFF",),
}
_PLAIN_TYPES: dict[str, BlockType] = {
    "text": "text",
    "title": "title",
    "list": "list",
    "index": "text",
}


class ResultUnreadable(EngineError):
    """The result ZIP holds nothing docmill can read."""


@dataclass
class _Unit:
    """One folder of results: the whole document, or one page in split mode."""

    folder: Path
    order: int
    middle: Path | None = None
    content_list: Path | None = None
    markdown: Path | None = None


@dataclass
class _Builder:
    out_dir: Path
    blocks: list[Block] = field(default_factory=list)
    images: dict[str, ImageRef] = field(default_factory=dict)
    pages: list[Page] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _sources: dict[str, Path] = field(default_factory=dict)

    def add(self, page: int, kind: BlockType, bbox: BBox, **fields: Any) -> Block:
        block = Block(
            id=f"p{page + 1}-b{len(self.blocks) + 1}",
            page=page,
            order=len(self.blocks),
            type=kind,
            bbox=bbox,
            **fields,
        )
        self.blocks.append(block)
        return block

    def add_table(
        self,
        page: int,
        bbox: BBox,
        markup: str,
        image: str | None = None,
        caption: str | None = None,
        confidence: float | None = None,
    ) -> Block:
        """A table block from upstream HTML: cleaned HTML kept, Markdown derived."""
        table = parse_table(markup)
        return self.add(
            page,
            "table",
            bbox,
            text=to_markdown(table),
            html=clean_html(table) or None,
            image=image,
            caption=caption,
            confidence=confidence,
        )

    def image(self, folder: Path, raw: object, page: int, bbox: BBox) -> str | None:
        """Move an image of the result into `out_dir/images/`; its name, or None when
        the reference is unsafe, missing or not an image of the type its name says."""
        if not isinstance(raw, str) or not raw:
            return None
        name = raw.replace("\\", "/").rsplit("/", 1)[-1]
        if not _SAFE_IMAGE.match(name):
            self.warnings.append(f"An image reference was ignored ({name[:60]!r}).")
            return None
        source = folder / IMAGE_DIR / name
        if self._sources.get(name) == source:
            return name
        if name in self._sources:
            name = f"p{page + 1}_{name}"
            if name in self._sources:
                return name
        if not source.is_file() or source.is_symlink():
            self.warnings.append(f"The image {name!r} is missing from the result.")
            return None
        with source.open("rb") as file:
            head = file.read(12)
        suffix = name.rsplit(".", 1)[1].lower()
        if not head.startswith(_MAGIC[suffix]) or (suffix == "webp" and head[8:12] != b"WEBP"):
            self.warnings.append(f"The file {name!r} is not the image its name says; ignored.")
            return None
        target = self.out_dir / IMAGE_DIR / name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        self._sources[name] = source
        self.images[name] = ImageRef(name=name, page=page, bbox=bbox, path=f"{IMAGE_DIR}/{name}")
        return name


def _number(value: object) -> float | None:
    """A finite number, or None (the JSON comes from outside: strings, NaN, ...)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _bbox(value: object) -> BBox:
    if isinstance(value, list | tuple) and len(value) == 4:
        numbers = [_number(v) for v in value]
        if all(n is not None for n in numbers):
            x0, y0, x1, y1 = (float(n or 0.0) for n in numbers)
            return (x0, y0, x1, y1)
    return (0.0, 0.0, 0.0, 0.0)


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _spans(block: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for line in _list(block.get("lines")):
        for span in _list(_dict(line).get("spans")):
            if isinstance(span, dict):
                yield span


def _join_lines(lines: list[str]) -> str:
    """Lines of a paragraph joined: no space between CJK characters, else one space."""
    text = ""
    for line in (line.strip() for line in lines):
        if not line:
            continue
        if text and not (_CJK.match(text[-1]) and _CJK.match(line[0])):
            text += " "
        text += line
    return text


def _block_text(block: dict[str, Any]) -> str:
    """The Markdown text of a text-like block: spans in order, inline equations as $…$."""
    lines: list[str] = []
    for line in _list(block.get("lines")):
        parts = []
        for span in _list(_dict(line).get("spans")):
            span = _dict(span)
            content = str(span.get("content") or "")
            if not content:
                continue
            kind = span.get("type")
            if kind == "inline_equation":
                parts.append(f"${content.strip()}$")
            elif kind == "interline_equation":
                parts.append(f"$${content.strip()}$$")
            elif kind == "text":
                parts.append(content)
        lines.append(" ".join(part.strip() for part in parts if part.strip()))
    return _join_lines(lines)


def _confidence(block: dict[str, Any]) -> float | None:
    scores = [n for n in (_number(s.get("score")) for s in _spans(block)) if n is not None]
    return round(sum(scores) / len(scores), 4) if scores else None


def _nested_text(block: dict[str, Any]) -> str:
    texts = [_block_text(_dict(sub)) for sub in _list(block.get("blocks"))]
    return _join_lines([text for text in texts if text]) or _block_text(block)


def _add_group(builder: _Builder, folder: Path, page: int, group: dict[str, Any]) -> None:
    """An image or table group: the body block, then its caption and footnote blocks."""
    is_table = group.get("type") == "table"
    prefix = "table" if is_table else "image"
    subs = [_dict(sub) for sub in _list(group.get("blocks"))] or [
        {**group, "type": prefix + "_body"}
    ]
    captions = [_block_text(sub) for sub in subs if sub.get("type") == f"{prefix}_caption"]
    caption = _join_lines([c for c in captions if c]) or None
    for sub in subs:
        kind, bbox = sub.get("type"), _bbox(sub.get("bbox"))
        if kind == f"{prefix}_body":
            spans = list(_spans(sub))
            image_path = next((s.get("image_path") for s in spans if s.get("image_path")), None)
            image = builder.image(folder, image_path, page, bbox)
            if is_table:
                markup = next((str(s["html"]) for s in spans if s.get("html")), "")
                builder.add_table(page, bbox, markup, image, caption, _confidence(sub))
            else:
                builder.add(
                    page, "figure", bbox, image=image, caption=caption, confidence=_confidence(sub)
                )
        elif kind == f"{prefix}_caption":
            text = _block_text(sub)
            if text:
                builder.add(
                    page, "table_caption" if is_table else "figure_caption", bbox, text=text
                )
        else:
            text = _block_text(sub)
            if text:
                builder.add(page, "text", bbox, text=text)


def _add_block(builder: _Builder, folder: Path, page: int, block: dict[str, Any]) -> None:
    kind, bbox = str(block.get("type") or ""), _bbox(block.get("bbox"))
    if kind in ("image", "table"):
        _add_group(builder, folder, page, block)
    elif kind == "interline_equation":
        spans = list(_spans(block))
        latex = "\n".join(
            str(s.get("content") or "").strip()
            for s in spans
            if s.get("type") == "interline_equation"
        ).strip()
        image_path = next((s.get("image_path") for s in spans if s.get("image_path")), None)
        builder.add(
            page,
            "equation",
            bbox,
            latex=latex or None,
            image=None if latex else builder.image(folder, image_path, page, bbox),
            confidence=_confidence(block),
        )
    elif kind in _PLAIN_TYPES:
        text = _nested_text(block) if block.get("blocks") else _block_text(block)
        if text:
            builder.add(page, _PLAIN_TYPES[kind], bbox, text=text, confidence=_confidence(block))
    else:
        text = _block_text(block)
        if text:
            builder.warnings.append(f"A block of unknown type {kind[:40]!r} was read as text.")
            builder.add(page, "text", bbox, text=text, confidence=_confidence(block))


def _add_middle_page(builder: _Builder, folder: Path, page: int, info: dict[str, Any]) -> None:
    size = [_number(v) for v in _list(info.get("page_size"))]
    width, height = (size[0] or 0.0, size[1] or 0.0) if len(size) == 2 else (0.0, 0.0)
    builder.pages.append(Page(index=page, width=width, height=height))
    furniture: list[tuple[BlockType, dict[str, Any]]] = []
    for block in _list(info.get("discarded_blocks")):
        block = _dict(block)
        bbox = _bbox(block.get("bbox"))
        furniture.append(("header" if (bbox[1] + bbox[3]) / 2 < height / 2 else "footer", block))
    for kind, block in furniture:
        if kind == "header" and (text := _block_text(block)):
            builder.add(page, "header", _bbox(block.get("bbox")), text=text)
    blocks = _list(info.get("para_blocks")) or _list(info.get("preproc_blocks"))
    for block in blocks:
        _add_block(builder, folder, page, _dict(block))
    for kind, block in furniture:
        if kind == "footer" and (text := _block_text(block)):
            builder.add(page, "footer", _bbox(block.get("bbox")), text=text)


def _load_json(path: Path) -> Any:
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ResultUnreadable(f"MonkeyOCR's {path.name} is too large to read.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ResultUnreadable(f"MonkeyOCR's {path.name} is not valid JSON.") from exc


def _read_middle(builder: _Builder, unit: _Unit, first_page: int) -> int:
    assert unit.middle is not None
    data = _dict(_load_json(unit.middle))
    pages = [_dict(info) for info in _list(data.get("pdf_info"))]
    if not pages:
        raise ResultUnreadable(f"MonkeyOCR's {unit.middle.name} lists no pages.")
    for offset, info in enumerate(pages):
        _add_middle_page(builder, unit.folder, first_page + offset, info)
    return len(pages)


def _strip_dollars(text: str) -> str:
    text = text.strip()
    for fence in ("$$", "$"):
        if text.startswith(fence) and text.endswith(fence) and len(text) >= 2 * len(fence):
            return text[len(fence) : -len(fence)].strip()
    return text


def _read_content_list(builder: _Builder, unit: _Unit, first_page: int) -> int:
    assert unit.content_list is not None
    items = [_dict(item) for item in _list(_load_json(unit.content_list))]
    last = 0
    for item in items:
        local = item.get("page_idx")
        page = first_page + (local if isinstance(local, int) and 0 <= local < 100_000 else 0)
        last = max(last, page - first_page)
        bbox, kind = _bbox(item.get("bbox")), item.get("type")
        if kind == "text":
            text, level = str(item.get("text") or "").strip(), item.get("text_level")
            if text and isinstance(level, int) and level > 0:
                builder.add(page, "title", bbox, text=text, level=min(level, 6))
            elif text:
                builder.add(page, "text", bbox, text=text)
        elif kind == "equation":
            latex = _strip_dollars(str(item.get("text") or ""))
            if latex:
                builder.add(page, "equation", bbox, latex=latex)
        elif kind in ("image", "table"):
            is_table = kind == "table"
            prefix = "table" if is_table else "img"
            caption = _join_lines([str(c) for c in _list(item.get(f"{prefix}_caption"))]) or None
            image = builder.image(unit.folder, item.get("img_path"), page, bbox)
            if is_table:
                builder.add_table(page, bbox, str(item.get("table_body") or ""), image, caption)
            else:
                builder.add(page, "figure", bbox, image=image, caption=caption)
            if caption:
                builder.add(
                    page, "table_caption" if is_table else "figure_caption", bbox, text=caption
                )
    count = last + 1
    builder.pages.extend(Page(index=first_page + i, width=0.0, height=0.0) for i in range(count))
    return count


_MD_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)$")
_MD_TITLE = re.compile(r"^(#{1,6})\s+(.*)$")


def _read_markdown(builder: _Builder, unit: _Unit, first_page: int) -> int:
    """Last resort: paragraphs of the Markdown as blocks, all on one page, no boxes."""
    assert unit.markdown is not None
    if unit.markdown.stat().st_size > MAX_JSON_BYTES:
        raise ResultUnreadable(f"MonkeyOCR's {unit.markdown.name} is too large to read.")
    text = unit.markdown.read_text(encoding="utf-8", errors="replace")
    none: BBox = (0.0, 0.0, 0.0, 0.0)
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if title := _MD_TITLE.match(paragraph):
            builder.add(first_page, "title", none, text=title[2], level=len(title[1]))
        elif image := _MD_IMAGE.match(paragraph):
            name = builder.image(unit.folder, image[2], first_page, none)
            builder.add(first_page, "figure", none, image=name, caption=image[1] or None)
        elif paragraph.startswith("$$") and paragraph.endswith("$$"):
            builder.add(first_page, "equation", none, latex=_strip_dollars(paragraph))
        elif paragraph.lower().startswith("<table"):
            builder.add_table(first_page, none, paragraph)
        else:
            builder.add(first_page, "text", none, text=paragraph)
    builder.pages.append(Page(index=first_page, width=0.0, height=0.0))
    return 1


def _units(root: Path) -> list[_Unit]:
    """The result folders under `root`, in page order (split layout) or just one."""
    units: dict[Path, _Unit] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink() or IMAGE_DIR in path.relative_to(root).parts:
            continue
        name = path.name
        if name.endswith("_middle.json"):
            slot = "middle"
        elif name.endswith("_content_list.json"):
            slot = "content_list"
        elif name.endswith(".md"):
            slot = "markdown"
        else:
            continue
        folder = path.parent
        if folder not in units:
            match = _PAGE_DIR.match(folder.name)
            units[folder] = _Unit(folder, int(match[1]) if match else -1)
        unit = units[folder]
        if getattr(unit, slot) is None:
            setattr(unit, slot, path)
    return sorted(units.values(), key=lambda unit: (unit.order, str(unit.folder)))


def normalize(root: Path, out_dir: Path, filename: str = "") -> Document:
    """The Document of the unpacked result in `root`; images are moved to `out_dir/images/`.
    Raises ResultUnreadable when there is no middle.json, content list or Markdown."""
    units = _units(root)
    if not units:
        raise ResultUnreadable(
            "MonkeyOCR's result ZIP holds no middle.json, content list or Markdown."
        )
    builder = _Builder(out_dir)
    page = 0
    for unit in units:
        if unit.middle is not None:
            page += _read_middle(builder, unit, page)
        elif unit.content_list is not None:
            builder.warnings.append("MonkeyOCR sent no middle.json; blocks have no boxes.")
            page += _read_content_list(builder, unit, page)
        else:
            builder.warnings.append("MonkeyOCR sent only Markdown; blocks have no boxes.")
            page += _read_markdown(builder, unit, page)
    return Document(
        source=Source(filename=filename, pages=len(builder.pages)),
        engine=EngineInfo(name="monkeyocr"),
        pages=builder.pages,
        blocks=builder.blocks,
        images=list(builder.images.values()),
        warnings=sorted(set(builder.warnings)),
    )
