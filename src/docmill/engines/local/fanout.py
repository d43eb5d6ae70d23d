"""Pages of one document spread over a process pool, then assembled into one Document.

Each worker keeps its own models (loaded on its first page) and converts single pages;
the caller's thread collects the results as they finish, reports progress, and puts the
Document together. Used by `docmill convert`; a job runner can use it the same way with
its own pool (call `convert_with_pool` off the event loop, it blocks).
"""

from __future__ import annotations

import time
from concurrent.futures import Executor, Future, as_completed
from functools import cache
from pathlib import Path

from docmill.document import Document
from docmill.engines.base import ConvertOptions, ProgressCallback, no_progress
from docmill.engines.local.engine import LocalEngine
from docmill.engines.local.pages import PageResult


def init_worker(threads: int = 1) -> None:
    """Pool initializer: models in this worker use `threads` onnxruntime threads."""
    from docmill.engines.local.models import use_threads

    use_threads(threads)


@cache
def _worker_engine() -> LocalEngine:
    return LocalEngine()


def convert_page(path: Path, out_dir: Path, options: ConvertOptions, index: int) -> PageResult:
    """One page, in a pool worker (the engine and its models stay loaded in the worker)."""
    return _worker_engine().convert_pages(path, out_dir, options, [index])[0]


def convert_with_pool(
    executor: Executor,
    path: Path,
    out_dir: Path,
    options: ConvertOptions,
    progress: ProgressCallback = no_progress,
) -> Document:
    """The file converted page by page on `executor`; `progress(done, total)` after each
    finished page (it may raise Cancelled: pages not started yet are then dropped).

    Raises EngineError for input that cannot be converted.
    """
    started = time.perf_counter()
    engine = LocalEngine()
    total = engine.count_pages(path, options)
    progress(0, total)
    futures: list[Future[PageResult]] = [
        executor.submit(convert_page, path, out_dir, options, index) for index in range(total)
    ]
    results: list[PageResult] = []
    try:
        for done, future in enumerate(as_completed(futures), start=1):
            results.append(future.result())
            progress(done, total)
    finally:
        for future in futures:
            future.cancel()
    document = engine.assemble(path, options, results)
    document.timings["total"] = time.perf_counter() - started
    return document
