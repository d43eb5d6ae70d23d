"""Engines for runner tests: real text extraction, slowed down per page so a test can
cancel, stop or count a conversion while it runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pypdfium2

from docmill.document import Block, Document, EngineInfo, ImageRef, Page, Source
from docmill.engines.base import ConvertOptions, EngineError, ProgressCallback, no_progress

RUNS_FILE_ENV = "DOCMILL_TEST_ENGINE_RUNS"
DELAY_ENV = "DOCMILL_TEST_ENGINE_DELAY_S"


class SlowTextEngine:
    """One text block a page from pypdfium2's text layer, `delay_s` per page
    (from $DOCMILL_TEST_ENGINE_DELAY_S, default 0.3). Appends a line to the file named by
    $DOCMILL_TEST_ENGINE_RUNS on every run, so tests can count engine runs."""

    name = "slow_text"
    version = "1"
    kind = "cpu"

    def convert(
        self,
        path: Path,
        out_dir: Path,
        options: ConvertOptions,
        progress: ProgressCallback = no_progress,
    ) -> Document:
        runs_file = os.environ.get(RUNS_FILE_ENV)
        if runs_file:
            with open(runs_file, "a") as handle:
                handle.write(f"{path}\n")
        delay = float(os.environ.get(DELAY_ENV, "0.3"))
        try:
            pdf = pypdfium2.PdfDocument(path)
        except pypdfium2.PdfiumError as exc:
            raise EngineError("not a PDF") from exc
        pages, blocks = [], []
        total = len(pdf)
        progress(0, total)
        for index in range(total):
            page = pdf[index]
            width, height = page.get_size()
            text = page.get_textpage().get_text_range().strip()
            pages.append(Page(index=index, width=width, height=height))
            blocks.append(
                Block(
                    id=f"b{index}",
                    page=index,
                    order=index,
                    type="text",
                    bbox=(0, 0, width, height),
                    text=text,
                )
            )
            time.sleep(delay)
            progress(index + 1, total)
        figure = self._figure(pdf, out_dir)
        pdf.close()
        blocks.append(
            Block(
                id="fig",
                page=0,
                order=total,
                type="figure",
                bbox=figure.bbox,
                image=figure.name,
                caption="Page one, small",
            )
        )
        return Document(
            source=Source(filename=path.name, pages=total),
            engine=EngineInfo(name=self.name, version=self.version),
            pages=pages,
            blocks=blocks,
            images=[figure],
        )

    @staticmethod
    def _figure(pdf: pypdfium2.PdfDocument, out_dir: Path) -> ImageRef:
        """Page 1 rendered small, saved as the document's one figure."""
        target = out_dir / "images" / "p1_figure.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        pdf[0].render(scale=0.25).to_pil().save(target)
        width, height = pdf[0].get_size()
        return ImageRef(
            name=target.name, page=0, bbox=(0, 0, width, height), path="images/p1_figure.png"
        )
