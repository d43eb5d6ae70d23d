"""`docmill convert FILE... -o DIR`: conversion offline, or through a running server.

Each input gets a folder `DIR/<name>/` laid out like a task's result folder in the
service: `document.md`, `blocks.json`, `chunks.jsonl`, `images/` and (offline)
`document.json` (the whole Document) or (with `--server`) the downloaded `result.zip`.
Mounted by the main CLI; usable alone as `convert_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer

from docmill.config import Settings
from docmill.document import Document
from docmill.engines import UnknownEngine, get_engine
from docmill.engines.base import ConvertOptions, EngineError
from docmill.pipeline.artifacts import write_document

convert_app = typer.Typer(help="Convert documents offline.", no_args_is_help=True)


def _output_folder(output_dir: Path, file: Path, taken: set[str]) -> Path:
    """A folder named after the file, suffixed when two inputs share a name."""
    name, number = file.stem, 1
    while name in taken:
        number += 1
        name = f"{file.stem}-{number}"
    taken.add(name)
    return output_dir / name


class _Bar:
    """A progress bar per file, opened when the engine first reports the page count."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.stack = contextlib.ExitStack()
        self.bar: Any = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = self.stack.enter_context(
                typer.progressbar(length=max(total, 1), label=self.label, show_pos=True)
            )
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        self.stack.close()


def convert_file(
    file: Path,
    folder: Path,
    engine_name: str,
    options: ConvertOptions,
    settings: Settings,
    pool: Executor | None = None,
) -> Document:
    """One file converted into `folder`; with a `pool`, the local engine's pages are spread
    over it. Raises EngineError or UnknownEngine."""
    engine = get_engine(engine_name, tuple(settings.extra_engines))
    folder.mkdir(parents=True, exist_ok=True)
    bar = _Bar(file.name)
    try:
        if pool is not None and engine.name == "local":
            from docmill.engines.local.fanout import convert_with_pool

            document = convert_with_pool(pool, file, folder, options, bar)
        else:
            result = engine.convert(file, folder, options, bar)
            document = asyncio.run(result) if inspect.isawaitable(result) else result
    finally:
        bar.close()
    write_document(document, folder)
    return document


@convert_app.command("convert")
def convert(
    files: Annotated[
        list[Path],
        typer.Argument(help="PDFs or images.", exists=True, dir_okay=False, readable=True),
    ],
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-o", help="Folder for the results.", file_okay=False)
    ],
    engine: Annotated[
        str | None,
        typer.Option("--engine", help="Engine name (offline: local; server: its default)."),
    ] = None,
    force_ocr: Annotated[
        bool, typer.Option("--force-ocr", help="OCR every page, ignoring text layers.")
    ] = False,
    server: Annotated[
        str | None,
        typer.Option("--server", help="Convert through this docmill server (URL) instead."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", help="API key for --server (default DOCMILL_API_KEY)."),
    ] = None,
) -> None:
    """Convert FILE... into Markdown, blocks.json and images under OUTPUT_DIR."""
    settings = Settings()
    if server is not None:
        key = api_key or settings.api_key
        if not key:
            typer.secho("--server needs an API key: set DOCMILL_API_KEY.", fg="red", err=True)
            raise typer.Exit(2)
        if _convert_remote(files, output_dir, server, key, engine, force_ocr):
            raise typer.Exit(1)
        return
    engine = engine or "local"
    options = ConvertOptions(
        force_ocr=force_ocr,
        max_pages=settings.max_pages,
        max_image_pixels=settings.max_image_pixels,
    )
    taken: set[str] = set()
    failures = 0
    with contextlib.ExitStack() as stack:
        pool = _page_pool(stack, settings) if engine == "local" else None
        for file in files:
            failures += _convert_one(file, output_dir, taken, engine, options, settings, pool)
    if failures:
        raise typer.Exit(1)


def _page_pool(stack: contextlib.ExitStack, settings: Settings) -> Executor | None:
    """Worker processes for the local engine's pages: one per configured engine worker,
    sharing the cores (None when only one is configured)."""
    workers = max(1, settings.engine_workers)
    if workers == 1:
        return None
    from docmill.engines.local.fanout import init_worker

    threads = max(1, (os.cpu_count() or 1) // workers)
    return stack.enter_context(
        ProcessPoolExecutor(workers, initializer=init_worker, initargs=(threads,))
    )


def _convert_one(
    file: Path,
    output_dir: Path,
    taken: set[str],
    engine: str,
    options: ConvertOptions,
    settings: Settings,
    pool: Executor | None,
) -> int:
    """Convert and report one file; 1 when it failed, else 0. Raises typer.Exit(2) for an
    unknown engine."""
    folder = _output_folder(output_dir, file, taken)
    try:
        document = convert_file(file, folder, engine, options, settings, pool)
    except UnknownEngine:
        typer.secho(f"Unknown engine: {engine}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    except EngineError as exc:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when the engine left nothing behind
        typer.secho(f"{file.name}: {exc}", fg=typer.colors.RED, err=True)
        return 1
    typer.echo(
        f"{file.name}: {document.source.pages} pages, {len(document.blocks)} blocks, "
        f"{len(document.images)} images -> {folder}"
    )
    for warning in document.warnings:
        typer.secho(f"{file.name}: {warning}", fg=typer.colors.YELLOW, err=True)
    return 0


def _convert_remote(
    files: list[Path],
    output_dir: Path,
    server: str,
    api_key: str,
    engine: str | None,
    force_ocr: bool,
) -> int:
    """Convert each file through the server: upload, follow, download and unpack the
    result ZIP into its folder. The number of files that failed."""
    from docmill.client import ApiError, Docmill
    from docmill.engines.monkeyocr.unpack import UnpackLimits, unpack

    taken: set[str] = set()
    failures = 0
    with Docmill(server, api_key=api_key) as client:
        for file in files:
            folder = _output_folder(output_dir, file, taken)
            bar = _Bar(file.name)
            try:
                task = client.wait(
                    client.upload(file, engine=engine, force_ocr=force_ocr), on_progress=bar
                )
                if task.status != "completed":
                    raise ApiError(0, task.status, task.error_message or f"The task {task.status}.")
                folder.mkdir(parents=True, exist_ok=True)
                archive = client.download(task, folder / "result.zip")
                unpack(archive, folder, UnpackLimits())
            except (ApiError, EngineError, OSError) as exc:
                failures += 1
                typer.secho(f"{file.name}: {exc}", fg=typer.colors.RED, err=True)
                continue
            finally:
                bar.close()
            meta = task.metadata
            typer.echo(
                f"{file.name}: {task.total_pages} pages, {meta.get('blocks', 0)} blocks, "
                f"{meta.get('images', 0)} images -> {folder} (task {task.id})"
            )
    return failures
