"""Benchmark of issue 16's paths (not a test): Office documents to a Document, and the
searchable PDF of scanned pages. Each measurement runs in a fresh process, so its peak
memory (VmHWM through `ru_maxrss`) is its own; LibreOffice's peak is that of the largest
child process waited for.

    python -m bench.bench_office [--docx-pages 10] [--docs 3] [--scan-pages 20] [--record]

1. **DOCX → Document**: generated DOCX files of `--docx-pages` pages (text, a table and
   a picture per page) through the pipeline's own steps: the pre-conversion (LibreOffice,
   start-up included, a fresh profile each time) and the local engine on the PDF, with
   its models loaded before timing. Pages/s over the whole, and the share of LibreOffice.
2. **Searchable PDF**: a 20-page 200 dpi scan converted once by the local engine (not
   timed), then `build_searchable_pdf` timed alone: pages/s and its peak memory.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SECTION = "bench:office"


def _docx(path: Path, pages: int) -> None:
    from docx import Document
    from docx.enum.text import WD_BREAK
    from docx.shared import Inches

    from tests.support import office

    document = Document()
    chart = office.chart_png()
    for page in range(pages):
        document.add_heading(f"{office.TITLE}, part {page + 1}", level=1)
        for _ in range(4):
            document.add_paragraph(office.PARAGRAPH + " " + office.PARAGRAPH)
        table = document.add_table(rows=len(office.TABLE), cols=len(office.TABLE[0]))
        table.style = "Table Grid"
        for r, row in enumerate(office.TABLE):
            for c, value in enumerate(row):
                table.cell(r, c).text = value
        document.add_picture(io.BytesIO(chart), width=Inches(3))
        if page + 1 < pages:
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    document.save(str(path))


def _vm_hwm_mib() -> float:
    """This process's peak resident set (VmHWM, which exec resets, unlike ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _ChildPeak:
    """Samples the summed RSS of this process's descendants (LibreOffice) every 50 ms."""

    def __init__(self) -> None:
        import threading

        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(0.05):
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total / 2**20)

    def __enter__(self) -> _ChildPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_docx(pages: int, docs: int) -> dict[str, Any]:
    """In this process: `docs` DOCX files of `pages` pages each → Documents."""
    from docmill.config import Settings
    from docmill.engines.base import ConvertOptions
    from docmill.engines.local import LocalEngine
    from docmill.engines.office import convert_to_pdf

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    engine = LocalEngine()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        sources = []
        for number in range(docs):
            source = folder / f"doc{number}.docx"
            _docx(source, pages)
            sources.append(source)
        warm = folder / "warm.pdf"
        from tests.support.documents import text_pdf

        warm.write_bytes(text_pdf([["warm up"]]))
        engine.convert(warm, folder / "warm", ConvertOptions())
        office_s = engine_s = 0.0
        converted = 0
        office_peaks: list[float] = []
        for number, source in enumerate(sources):
            started = time.perf_counter()
            with _ChildPeak() as libreoffice:
                pdf = convert_to_pdf(
                    source, folder / f"out{number}" / "source.pdf", settings.office
                )
            office_s += time.perf_counter() - started
            office_peaks.append(libreoffice.peak)
            started = time.perf_counter()
            document = engine.convert(pdf, folder / f"out{number}", ConvertOptions())
            engine_s += time.perf_counter() - started
            converted += len(document.pages)
    total = office_s + engine_s
    return {
        "pages": converted,
        "documents": docs,
        "seconds": round(total, 2),
        "pages_per_s": round(converted / total, 3),
        "libreoffice_s_per_doc": round(office_s / docs, 2),
        "engine_s_per_page": round(engine_s / converted, 3),
        "peak_mib": _vm_hwm_mib(),
        "child_peak_mib": max(office_peaks),
    }


def run_scan(pages: int) -> dict[str, Any]:
    """In this process: the searchable PDF of a `pages`-page scan (Document from a prior
    conversion read from disk, so only the build is in this process's peak)."""
    from docmill.document import Document
    from docmill.exports.searchable_pdf import build_searchable_pdf

    folder = Path(os.environ["BENCH_SCAN_DIR"])
    document = Document.model_validate_json((folder / "document.json").read_text())
    before = _vm_hwm_mib()
    started = time.perf_counter()
    build_searchable_pdf(folder / "scan.pdf", document, folder / "searchable.pdf")
    seconds = time.perf_counter() - started
    words = sum(len(page.words) for page in document.pages)
    return {
        "pages": pages,
        "words": words,
        "seconds": round(seconds, 3),
        "pages_per_s": round(pages / seconds, 2),
        "peak_before_mib": round(before, 1),
        "input_mib": round((folder / "scan.pdf").stat().st_size / 2**20, 2),
        "output_mib": round((folder / "searchable.pdf").stat().st_size / 2**20, 2),
        "peak_mib": _vm_hwm_mib(),
    }


def _prepare_scan(folder: Path, pages: int) -> None:
    """A `pages`-page 200 dpi scan and its Document (local engine, not timed)."""
    from PIL import Image

    from docmill.engines.base import ConvertOptions
    from docmill.engines.local import LocalEngine
    from tests.support import scans

    sample = scans.english_pdf(folder / "born.pdf")
    page = scans.rasterize(sample.path, 200)
    frames: list[Image.Image] = [page] * pages
    frames[0].save(folder / "scan.pdf", format="PDF", resolution=200.0, save_all=True,
                   append_images=frames[1:])  # fmt: skip
    document = LocalEngine().convert(folder / "scan.pdf", folder / "out", ConvertOptions())
    (folder / "document.json").write_text(document.model_dump_json())


def _child(mode: str, args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.bench_office", "--run", mode, *args]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}", **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def report(docx_pages: int, docs: int, scan_pages: int) -> str:
    docx = _child("docx", ["--docx-pages", str(docx_pages), "--docs", str(docs)])
    with tempfile.TemporaryDirectory() as scratch:
        _prepare_scan(Path(scratch), scan_pages)
        scan = _child("scan", ["--scan-pages", str(scan_pages)], {"BENCH_SCAN_DIR": scratch})
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    lines = [
        f"<!-- {SECTION} begin (written by python -m bench.bench_office --record) -->",
        "## Issue 16: Office input and searchable PDF (`python -m bench.bench_office`)",
        "",
        f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}; machine: "
        f"{os.cpu_count()} CPUs, {platform.platform()}; load average before: {load} "
        "(shared machine: numbers move with its load)",
        "- each measurement in a fresh process; peak (python) = VmHWM of that process; "
        "peak (child) = LibreOffice's process tree, summed RSS sampled every 50 ms (the "
        "highest of the documents)",
        "",
        "| what | input | pages | seconds | pages/s | peak MB (python) | peak MB (child) | note |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| DOCX → Document (LibreOffice + local engine) | {docs} DOCX × {docx_pages} pages "
        f"(text, table, picture each) | {docx['pages']} | {docx['seconds']} | "
        f"{docx['pages_per_s']} | {docx['peak_mib']:.0f} | {docx['child_peak_mib']:.0f} | "
        f"LibreOffice {docx['libreoffice_s_per_doc']} s a document (start-up included), "
        f"engine {docx['engine_s_per_page']} s a page |",
        f"| searchable PDF (build only) | {scan_pages}-page 200 dpi scan, "
        f"{scan['input_mib']} MB, {scan['words']} OCR words | {scan['pages']} | "
        f"{scan['seconds']} | {scan['pages_per_s']} | {scan['peak_mib']:.0f} | – | "
        f"{scan['peak_before_mib']:.0f} MB before the build; output {scan['output_mib']} MB |",
        f"<!-- {SECTION} end -->",
    ]
    return "\n".join(lines) + "\n"


def record(section: str, results: Path = ROOT / "bench" / "RESULTS.md") -> None:
    """Replace this benchmark's section of RESULTS.md (or append it)."""
    text = results.read_text() if results.exists() else "# Benchmarks\n"
    begin, end = f"<!-- {SECTION} begin", f"<!-- {SECTION} end -->"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    results.write_text(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docx-pages", type=int, default=10)
    parser.add_argument("--docs", type=int, default=3)
    parser.add_argument("--scan-pages", type=int, default=20)
    parser.add_argument("--record", action="store_true", help="write bench/RESULTS.md")
    parser.add_argument("--run", choices=["docx", "scan"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run == "docx":
        print(json.dumps(run_docx(args.docx_pages, args.docs)))
        return
    if args.run == "scan":
        print(json.dumps(run_scan(args.scan_pages)))
        return
    section = report(args.docx_pages, args.docs, args.scan_pages)
    print(section)
    if args.record:
        record(section)


if __name__ == "__main__":
    main()
