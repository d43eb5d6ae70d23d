"""The `local` engine: offline, CPU-only conversion of PDFs and images into a Document."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

from docmill.document import Block, Document, EngineInfo, ImageRef, Page, Source
from docmill.engines.base import ConvertOptions, EngineError, ProgressCallback, no_progress
from docmill.engines.local.pages import PageResult, PageSettings, process_page
from docmill.engines.local.second_pass import level_titles, mark_repeated_furniture
from docmill.engines.local.sources import open_source
from docmill.engines.pdf_text import sha256_of

_FURNITURE_RANK = {"header": 0, "footer": 2}


def _version() -> str:
    parts = []
    for dist in ("rapidocr", "rapid-layout"):
        try:
            parts.append(f"{dist}-{metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist}-unknown")
    return "1+" + "+".join(parts)


class LocalEngine:
    """PDF text layer where a page has one, layout analysis and OCR elsewhere.

    Models are loaded on first use in the process that converts, never on construction.
    """

    name = "local"
    kind = "cpu"

    def __init__(self) -> None:
        from docmill.config import Settings

        settings = Settings()
        self.version = _version()
        self._dpi = float(settings.local_render_dpi)
        self._max_render_pixels = settings.local_max_render_pixels

    def _page_settings(self, options: ConvertOptions) -> PageSettings:
        return PageSettings(
            ocr_dpi=self._dpi,
            max_render_pixels=self._max_render_pixels,
            force_ocr=options.force_ocr,
        )

    def count_pages(self, path: Path, options: ConvertOptions) -> int:
        """How many pages the file has. Raises EngineError for unreadable or oversized files."""
        source = open_source(path, options.max_image_pixels)
        try:
            count = len(source)
        finally:
            source.close()
        if count == 0:
            raise EngineError("The file has no pages.")
        if count > options.max_pages:
            raise EngineError(
                f"The file has {count} pages; at most {options.max_pages} are accepted."
            )
        return count

    def convert_pages(
        self,
        path: Path,
        out_dir: Path,
        options: ConvertOptions,
        page_indices: Iterable[int],
        progress: ProgressCallback | None = None,
    ) -> list[PageResult]:
        """The given pages (0-based) converted, in the order given; images go to out_dir.

        `progress(done, len(page_indices))` runs after each page and may raise Cancelled.
        Raises EngineError when the file or a page cannot be read.
        """
        indices = list(page_indices)
        settings = self._page_settings(options)
        source = open_source(path, options.max_image_pixels)
        try:
            results: list[PageResult] = []
            for done, index in enumerate(indices, start=1):
                results.append(process_page(source, index, out_dir, settings))
                if progress is not None:
                    progress(done, len(indices))
            return results
        finally:
            source.close()

    def assemble(
        self, path: Path, options: ConvertOptions, results: Sequence[PageResult]
    ) -> Document:
        """One Document from page results (any order): global reading order and block ids."""
        source = open_source(path, options.max_image_pixels)
        try:
            mime = source.mime
        finally:
            source.close()
        results = sorted(results, key=lambda r: r.index)
        mark_repeated_furniture(results)
        level_titles([block for result in results for block in result.blocks])
        pages: list[Page] = []
        blocks: list[Block] = []
        images: list[ImageRef] = []
        counts = {"text": 0, "ocr": 0}
        for result in results:
            counts[result.path] += 1
            pages.append(
                Page(
                    index=result.index, width=result.width, height=result.height, words=result.words
                )
            )
            images.extend(result.images)
            # Furniture found across pages moves to the page's start or end, as on one page.
            in_order = sorted(result.blocks, key=lambda b: _FURNITURE_RANK.get(b.type, 1))
            for number, page_block in enumerate(in_order, start=1):
                blocks.append(
                    Block(
                        id=f"p{result.index + 1}-b{number}",
                        page=result.index,
                        order=len(blocks),
                        type=page_block.type,  # type: ignore[arg-type]
                        bbox=page_block.bbox,
                        text=page_block.text,
                        html=page_block.html,
                        image=page_block.image,
                        caption=page_block.caption,
                        level=page_block.level,
                        confidence=page_block.score,
                    )
                )
        return Document(
            source=Source(filename=path.name, sha256=sha256_of(path), mime=mime, pages=len(pages)),
            engine=EngineInfo(
                name=self.name,
                version=self.version,
                options={"force_ocr": options.force_ocr, "lang": options.lang},
            ),
            pages=pages,
            blocks=blocks,
            images=images,
            warnings=[warning for result in results for warning in result.warnings],
            timings={
                "pages_text_layer": float(counts["text"]),
                "pages_ocr": float(counts["ocr"]),
                "seconds_text_layer": sum(r.seconds for r in results if r.path == "text"),
                "seconds_ocr": sum(r.seconds for r in results if r.path == "ocr"),
            },
        )

    def convert(
        self,
        path: Path,
        out_dir: Path,
        options: ConvertOptions,
        progress: ProgressCallback = no_progress,
    ) -> Document:
        """The file as a Document; crops are written under `out_dir/images/`.

        Calls `progress(pages_done, total)` after every page; cancellation (Cancelled
        raised by the callback) stops between pages. Raises EngineError for input that
        cannot be converted.
        """
        started = time.perf_counter()
        total = self.count_pages(path, options)
        progress(0, total)
        results = self.convert_pages(path, out_dir, options, range(total), progress)
        document = self.assemble(path, options, results)
        document.timings["total"] = time.perf_counter() - started
        return document
