"""Reading a completed task's result as clients see it: blocks, Markdown, images, pages.

Image links are rewritten to signed `/media` URLs, valid for `media_url_ttl_s`.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from docmill.chunking import Chunk, chunk_document
from docmill.config import Settings
from docmill.document import PAGE_FURNITURE, Block, Document, ImageRef, render_block
from docmill.errors import Conflict, InvalidInput, NotFound
from docmill.pipeline.artifacts import (
    read_document,
    render_image_page,
    render_page,
    write_plain_text,
)
from docmill.pipeline.filetypes import kind_of
from docmill.security import sign_path
from docmill.store.blobs import DOCUMENT_TXT, SEARCHABLE_PDF, BlobStore
from docmill.store.models import Task
from docmill.store.tasks import COMPLETED

# Our body block types in MonkeyOCR's vocabulary (title, text, list, table, image,
# interline_equation); the rest are theirs already.
CLIENT_BLOCK_TYPES = {
    "figure": "image",
    "equation": "interline_equation",
    "figure_caption": "text",
    "table_caption": "text",
    "reference": "text",
}
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
}
IMAGE_LINK = re.compile(r"(!\[[^\]]*\]\()(images/[^)\s]+)(\))")


class ResultReader:
    def __init__(self, settings: Settings, blobs: BlobStore) -> None:
        self.settings = settings
        self.blobs = blobs

    def media_url(self, task_id: str, path: str) -> str:
        """A signed URL of a file in the task's result folder."""
        media_path = f"{task_id}/{path}"
        expires, signature = sign_path(
            media_path, self.settings.signing_key, self.settings.media_url_ttl_s
        )
        return f"/media/{quote(media_path)}?exp={expires}&sig={signature}"

    async def document(self, task: Task) -> Document:
        """The task's Document. Raises Conflict if the task has not completed."""
        _require_completed(task)
        try:
            return await asyncio.to_thread(read_document, self.blobs.result_dir(task.id))
        except FileNotFoundError as exc:
            raise NotFound(
                "The result files of this task are missing.", code="result_missing"
            ) from exc

    async def chunks(self, task: Task, max_tokens: int, overlap: int) -> list[Chunk]:
        """The task's chunks for retrieval (`docmill.chunking`), computed in a thread.
        Raises InvalidInput (overlap over half the limit), Conflict or NotFound."""
        if overlap > max_tokens // 2:
            raise InvalidInput("'overlap' must be at most half of 'max_tokens'.")
        document = await self.document(task)
        return await asyncio.to_thread(chunk_document, document, max_tokens, overlap)

    def markdown(self, task: Task, document: Document) -> str:
        return self._signed_links(task.id, document.markdown)

    def _signed_links(self, task_id: str, markdown: str) -> str:
        """`markdown` with its `images/…` links made signed `/media` URLs."""
        return IMAGE_LINK.sub(
            lambda m: f"{m.group(1)}{self.media_url(task_id, m.group(2))}{m.group(3)}", markdown
        )

    def images(self, task: Task, document: Document) -> list[dict[str, Any]]:
        captions = {b.image: (b.caption or "") for b in document.blocks if b.image}
        return [
            {
                "filename": image.name,
                "path": image.path,
                "url": self.media_url(task.id, image.path),
                "alt": captions.get(image.name, ""),
                "page": image.page + 1,
            }
            for image in document.images
        ]

    def blocks(self, task: Task, document: Document) -> dict[str, list[dict[str, Any]]]:
        """The blocks as MonkeyOCR-WebApp's viewer reads them: `preproc_blocks` (the body,
        in reading order, types in MonkeyOCR's vocabulary, docmill's own type in `kind`)
        and `discarded_blocks` (page headers, footers and page numbers). Each list is
        numbered from 1."""
        sizes = {page.index: [page.width, page.height] for page in document.pages}
        images = {image.name: image for image in document.images}
        lists: dict[str, list[dict[str, Any]]] = {"preproc_blocks": [], "discarded_blocks": []}
        for block in sorted(document.blocks, key=lambda b: b.order):
            discarded = block.type in PAGE_FURNITURE
            client_type = CLIENT_BLOCK_TYPES.get(block.type, block.type)
            target = lists["discarded_blocks" if discarded else "preproc_blocks"]
            view: dict[str, Any] = {
                "index": len(target) + 1,
                "page_num": block.page + 1,
                "page_size": sizes.get(block.page, [0, 0]),
                "bbox": [round(value, 2) for value in block.bbox],
                "type": "discarded" if discarded else client_type,
                "kind": block.type,
                "content": self._block_content(task.id, block, images),
            }
            if block.html:
                view["html_content"] = block.html
            if block.image and block.image in images:
                view["image_path"] = self.media_url(task.id, images[block.image].path)
            if block.caption:
                view["caption"] = block.caption
            target.append(view)
        return lists

    def _block_content(self, task_id: str, block: Block, images: dict[str, ImageRef]) -> str:
        """A figure as `![caption](signed URL)`, an equation as `$$…$$` (or its image when
        it has no LaTeX), any other block as its Markdown text."""
        if block.type in ("figure", "equation"):
            return self._signed_links(task_id, render_block(block, images))
        return block.text

    def metadata(self, task: Task) -> dict[str, Any]:
        duration = None
        if task.processing_started_at and task.completed_at:
            duration = round((task.completed_at - task.processing_started_at).total_seconds(), 3)
        return {
            "total_pages": task.total_pages,
            "processing_time": duration,
            "file_size": task.file_size,
            "engine": task.engine,
            "from_cache": task.from_cache,
        }

    def media_file(self, task_id: str, path: str) -> tuple[Path, str]:
        """An image inside the task's result folder and its content type.
        Raises NotFound for anything else (other folders, other kinds of file)."""
        root = self.blobs.result_dir(task_id).resolve()
        target = (root / path).resolve()
        media_type = IMAGE_TYPES.get(target.suffix.lower())
        if media_type is None or not target.is_relative_to(root / "images"):
            raise NotFound("No such image.", code="media_not_found")
        if not target.is_file():
            raise NotFound("No such image.", code="media_not_found")
        return target, media_type

    async def page_image(self, task: Task, pages: Path | None, page: int) -> Path:
        """Page `page` (1-based) of the file `pages` (TaskService.pages_path) as PNG,
        rendered once and kept. Raises InvalidInput (no such page), Conflict (a kind
        without pages, an Office document not converted yet)."""
        pages = _require_pages(task, pages)
        if not 1 <= page <= max(task.total_pages, 1):
            raise InvalidInput(
                f"Page {page} does not exist; the document has {task.total_pages} page(s).",
                code="page_out_of_range",
            )
        target = self.blobs.page_image(task.id, page)
        if not await asyncio.to_thread(target.exists):
            if not await asyncio.to_thread(pages.exists):
                raise Conflict(
                    f"The task is {task.status}; the pages of an Office document are shown "
                    "once LibreOffice has converted it.",
                    code="task_not_ready",
                )
            image = kind_of(task.mime).family == "image"
            render = render_image_page if image else render_page
            await asyncio.to_thread(render, pages, page - 1, target)
        return target

    async def searchable_pdf(self, task: Task, pages: Path | None) -> Path:
        """The task's searchable PDF (built on first use when the result predates it).
        Raises Conflict (not completed, a kind without pages), NotFound (result gone)."""
        _require_completed(task)
        pages = _require_pages(task, pages)
        target = self.blobs.result_dir(task.id) / SEARCHABLE_PDF
        if not await asyncio.to_thread(target.exists):
            from docmill.exports.searchable_pdf import build_searchable_pdf

            document = await self.document(task)
            await asyncio.to_thread(build_searchable_pdf, pages, document, target)
        return target

    async def plain_text(self, task: Task) -> Path:
        """The task's plain text file (written on first use when the result predates it).
        Raises Conflict (not completed), NotFound (result gone)."""
        _require_completed(task)
        target = self.blobs.result_dir(task.id) / DOCUMENT_TXT
        if not await asyncio.to_thread(target.exists):
            document = await self.document(task)
            await asyncio.to_thread(write_plain_text, document, target)
        return target


def _require_completed(task: Task) -> None:
    if task.status != COMPLETED:
        raise Conflict(
            f"The task is {task.status}; its result is not ready.", code="task_not_ready"
        )


def _require_pages(task: Task, pages: Path | None) -> Path:
    if pages is None:
        raise Conflict(
            f"This task is a {task.file_type} document, which has no pages; "
            "page images and searchable PDFs exist for PDFs, images and Office documents.",
            code="no_pages",
        )
    return pages
