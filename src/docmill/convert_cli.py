"""`docmill convert FILE... -o DIR`: conversion offline, or through a running server.

Each input gets a folder `DIR/<name>/` laid out like a task's result folder in the
service: `document.md`, `document.txt`, `blocks.json`, `chunks.jsonl`, `images/` and
(offline) `document.json` (the whole Document) or (with `--server`) the downloaded
`result.zip`; with `--pdf` (offline) also the searchable PDF `searchable.pdf`. Office files
go through LibreOffice first (its PDF is kept as `source.pdf`); HTML, Markdown and e-mail
are read natively.
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
from docmill.errors import DocmillError
from docmill.pipeline.artifacts import write_document
from docmill.pipeline.filetypes import identify
from docmill.pipeline.intake import check_file
from docmill.store.blobs import OFFICE_PDF, SEARCHABLE_PDF

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


def _prepare(file: Path, folder: Path, engine_name: str, settings: Settings) -> tuple[Path, str]:
    """The file an engine reads and the engine's name, as the service decides them: the
    file type by content, Office through LibreOffice (after the upload's package checks),
    markup natively. Raises DocmillError (refused file) or EngineError."""
    from docmill.engines.office import ENABLE_HINT, convert_to_pdf, soffice_path

    with file.open("rb") as handle:
        head = handle.read(1024)
    kind = identify(file, head, file.name)
    if kind.family in ("markup", "email"):
        return file, "markup"
    if kind.family == "office":
        if soffice_path(settings.office_soffice) is None:
            raise EngineError(ENABLE_HINT)
        # Zip bombs are refused before LibreOffice; PDFs and images the engine checks.
        check_file(file, kind, settings.max_pages, 0, settings.office.package_limits)
        folder.mkdir(parents=True, exist_ok=True)
        return convert_to_pdf(file, folder / OFFICE_PDF, settings.office), engine_name
    return file, engine_name


def convert_file(
    file: Path,
    folder: Path,
    engine_name: str,
    options: ConvertOptions,
    settings: Settings,
    pool: Executor | None = None,
    searchable_pdf: bool = False,
) -> Document:
    """One file converted into `folder`; with a `pool`, the local engine's pages are spread
    over it; with `searchable_pdf`, `searchable.pdf` is written too (kinds with pages).
    Raises EngineError, DocmillError (a refused file) or UnknownEngine."""
    get_engine(engine_name, tuple(settings.extra_engines))  # an unknown engine fails first
    source, engine_name = _prepare(file, folder, engine_name, settings)
    engine = get_engine(engine_name, tuple(settings.extra_engines))
    folder.mkdir(parents=True, exist_ok=True)
    bar = _Bar(file.name)
    try:
        if pool is not None and engine.name == "local":
            from docmill.engines.local.fanout import convert_with_pool

            document = convert_with_pool(pool, source, folder, options, bar)
        else:
            result = engine.convert(source, folder, options, bar)
            document = asyncio.run(result) if inspect.isawaitable(result) else result
    finally:
        bar.close()
    write_document(document, folder)
    if searchable_pdf and engine_name != "markup":
        from docmill.exports.searchable_pdf import build_searchable_pdf

        build_searchable_pdf(source, document, folder / SEARCHABLE_PDF)
    return document


@convert_app.command("convert")
def convert(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="PDFs, images, Office documents, HTML, Markdown or e-mail files.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
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
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also write searchable.pdf (invisible text layer).")
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
            failures += _convert_one(file, output_dir, taken, engine, options, settings, pool, pdf)
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
    searchable_pdf: bool = False,
) -> int:
    """Convert and report one file; 1 when it failed, else 0. Raises typer.Exit(2) for an
    unknown engine."""
    folder = _output_folder(output_dir, file, taken)
    try:
        document = convert_file(file, folder, engine, options, settings, pool, searchable_pdf)
    except UnknownEngine:
        typer.secho(f"Unknown engine: {engine}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    except (EngineError, DocmillError) as exc:
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
