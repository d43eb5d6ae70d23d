"""One conversion: engine → Document → artifacts in a work folder.

`convert_in_worker` is what a worker process of the pool runs for a CPU engine;
`convert_async` does the same for a network-bound engine inside the event loop.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, cast

from docmill.document import Document
from docmill.engines import get_engine
from docmill.engines.base import (
    AsyncEngine,
    Cancelled,
    ConvertOptions,
    Engine,
    ProgressCallback,
)
from docmill.engines.office import OfficeSettings, convert_to_pdf
from docmill.exports.searchable_pdf import build_searchable_pdf
from docmill.pipeline.artifacts import build_result_zip, write_document
from docmill.store.blobs import OFFICE_PDF, RESULT_ZIP, SEARCHABLE_PDF


@dataclass(frozen=True)
class ConversionJob:
    task_id: str
    engine: str
    source: Path
    filename: str
    sha256: str
    mime: str
    work_dir: Path
    options: ConvertOptions
    extra_engines: tuple[str, ...] = ()
    family: str = "pdf"  # pipeline.filetypes family of the original

    @property
    def has_pages(self) -> bool:
        return self.family in ("pdf", "image", "office")


@dataclass(frozen=True)
class ConversionSummary:
    pages: int
    blocks: int
    images: int
    seconds: float
    warnings: list[str] = field(default_factory=list)


class ProgressSink(Protocol):
    def put(self, item: Any) -> None: ...


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


async def preconvert(job: ConversionJob, office: OfficeSettings) -> ConversionJob:
    """The pre-conversion step, before any engine: an Office original becomes a PDF
    (LibreOffice in a subprocess, waited on in a thread) kept with the result, and the job
    reads that PDF. Other jobs come back unchanged. Raises EngineError."""
    if job.family != "office":
        return job
    pdf = await asyncio.to_thread(convert_to_pdf, job.source, job.work_dir / OFFICE_PDF, office)
    return replace(job, source=pdf)


def write_result(job: ConversionJob, document: Document, started: float) -> ConversionSummary:
    """Fill the source fields and write document.json/md/txt, blocks.json, the searchable
    PDF (for kinds with pages) and result.zip."""
    document.source.filename = job.filename
    document.source.sha256 = job.sha256
    document.source.mime = job.mime
    document.source.pages = document.source.pages or len(document.pages)
    write_document(document, job.work_dir)
    if job.has_pages:
        build_searchable_pdf(job.source, document, job.work_dir / SEARCHABLE_PDF)
    build_result_zip(job.work_dir, job.work_dir / RESULT_ZIP)
    return ConversionSummary(
        pages=document.source.pages,
        blocks=len(document.blocks),
        images=len(document.images),
        seconds=round(time.monotonic() - started, 3),
        warnings=list(document.warnings),
    )


def convert_in_worker(
    job: ConversionJob, progress: ProgressSink, cancel: CancelFlag
) -> ConversionSummary:
    """Run a CPU engine and write the artifacts (in a worker process).
    Raises EngineError (bad input) or Cancelled."""
    started = time.monotonic()
    engine = cast(Engine, get_engine(job.engine, job.extra_engines))

    def report(done: int, total: int) -> None:
        if cancel.is_set():
            raise Cancelled()
        progress.put((done, total))

    document = engine.convert(job.source, job.work_dir, job.options, report)
    if cancel.is_set():
        raise Cancelled()
    return write_result(job, document, started)


async def convert_async(job: ConversionJob, progress: ProgressCallback) -> ConversionSummary:
    """Run a network-bound engine in the event loop; artifacts are written in a thread.
    Cancelling the awaiting task cancels the engine's requests mid-flight."""
    started = time.monotonic()
    engine = cast(AsyncEngine, get_engine(job.engine, job.extra_engines))
    document = await engine.convert(job.source, job.work_dir, job.options, progress)
    return await asyncio.to_thread(write_result, job, document, started)
