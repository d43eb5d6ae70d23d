"""Writing a Document's artifacts into a task's result folder, and the result ZIP.

Blocking functions: they run in a worker process (after an engine) or a thread.
"""

from __future__ import annotations

import json
import os
import uuid
import zipfile
from pathlib import Path

import pypdfium2

from docmill.chunking import chunk_document, chunks_jsonl
from docmill.document import Document
from docmill.store.blobs import (
    BLOCKS_JSON,
    CHUNKS_JSONL,
    DOCUMENT_JSON,
    DOCUMENT_MD,
    DOCUMENT_TXT,
    SEARCHABLE_PDF,
    write_atomic,
)

STORED_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif"}


def write_document(document: Document, result_dir: Path) -> None:
    """document.json (the whole Document), document.md, document.txt, blocks.json and
    chunks.jsonl (chunks with the default limits)."""
    write_atomic(result_dir / DOCUMENT_JSON, document.model_dump_json().encode())
    write_atomic(result_dir / DOCUMENT_MD, document.markdown.encode())
    write_plain_text(document, result_dir / DOCUMENT_TXT)
    blocks = [block.model_dump(mode="json") for block in document.blocks]
    write_atomic(result_dir / BLOCKS_JSON, json.dumps(blocks, ensure_ascii=False).encode())
    write_atomic(result_dir / CHUNKS_JSONL, chunks_jsonl(chunk_document(document)))


def write_plain_text(document: Document, target: Path) -> None:
    from docmill.exports.plain_text import render_text

    write_atomic(target, render_text(document).encode())


def read_document(result_dir: Path) -> Document:
    return Document.model_validate_json((result_dir / DOCUMENT_JSON).read_bytes())


def build_result_zip(result_dir: Path, target: Path) -> None:
    """The download ZIP: document.md, blocks.json, chunks.jsonl and images/, written beside `target`
    and renamed into place. Images are stored, text is deflated; memory stays flat."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name in (DOCUMENT_MD, BLOCKS_JSON, CHUNKS_JSONL, DOCUMENT_TXT):
            if (result_dir / name).is_file():
                archive.write(result_dir / name, name, compress_type=zipfile.ZIP_DEFLATED)
        if (result_dir / SEARCHABLE_PDF).is_file():
            archive.write(
                result_dir / SEARCHABLE_PDF, SEARCHABLE_PDF, compress_type=zipfile.ZIP_STORED
            )
        images = result_dir / "images"
        if images.is_dir():
            for path in sorted(images.rglob("*")):
                if path.is_file():
                    method = (
                        zipfile.ZIP_STORED
                        if path.suffix.lower() in STORED_SUFFIXES
                        else zipfile.ZIP_DEFLATED
                    )
                    archive.write(
                        path, path.relative_to(result_dir).as_posix(), compress_type=method
                    )
    os.replace(tmp, target)


def render_page(source: Path, page_index: int, target: Path, *, width_px: int = 1200) -> None:
    """Render one PDF page as PNG, `width_px` wide, into `target` (atomically)."""
    pdf = pypdfium2.PdfDocument(source)
    try:
        page = pdf[page_index]
        scale = width_px / page.get_width()
        image = page.render(scale=scale).to_pil()
        page.close()
    finally:
        pdf.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    image.save(tmp, format="PNG")
    os.replace(tmp, target)


def render_image_page(source: Path, frame: int, target: Path, *, width_px: int = 1200) -> None:
    """An uploaded image (or one TIFF frame) as a PNG preview, at most `width_px` wide."""
    from PIL import Image, ImageOps

    with Image.open(source) as image:
        image.seek(frame)
        page = ImageOps.exif_transpose(image.convert("RGB"))
        if page.width > width_px:
            page = page.resize((width_px, round(page.height * width_px / page.width)))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
        page.save(tmp, format="PNG")
    os.replace(tmp, target)
