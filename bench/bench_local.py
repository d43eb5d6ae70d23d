"""Benchmark of the local engine (not a test): speed of the text-layer and OCR paths,
peak memory per worker process, and CER on the generated cases.

    python -m bench                     (from the repository root; writes bench/RESULTS.md)
    python -m bench.bench_local [--ocr-pages 6] [--write FILE]

Runs on the CPU with both cores, the way the job runner uses them: one process with
onnxruntime using 2 threads, or 2 processes with 1 thread each, pages fanned out.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from docmill.engines.base import ConvertOptions

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
STUDY_NOTES = FIXTURES / "study_notes.pdf"


def _init_worker(threads: int) -> None:
    os.environ["DOCMILL_LOCAL_OCR_THREADS"] = str(threads)


def _pages(path: str, indices: list[int], force_ocr: bool, out_dir: str) -> tuple[float, int]:
    """Convert pages in this worker; (seconds, peak RSS in MiB of this process)."""
    from docmill.engines.local import LocalEngine

    engine = LocalEngine()
    started = time.perf_counter()
    engine.convert_pages(Path(path), Path(out_dir), ConvertOptions(force_ocr=force_ocr), indices)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return time.perf_counter() - started, peak_mib


def _warm(pool: ProcessPoolExecutor, workers: int, out_dir: str) -> None:
    """Load the models in every worker first so timings are of conversion alone."""
    list(
        pool.map(
            _pages,
            [str(STUDY_NOTES)] * workers,
            [[0]] * workers,
            [True] * workers,
            [out_dir] * workers,
        )
    )


def measure(workers: int, threads: int, indices: list[int], force_ocr: bool) -> dict[str, float]:
    """Pages per second with `workers` processes of `threads` onnxruntime threads each."""
    with (
        tempfile.TemporaryDirectory() as out_dir,
        ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(threads,)) as pool,
    ):
        _warm(pool, workers, out_dir)
        shares = [indices[i::workers] for i in range(workers)]
        started = time.perf_counter()
        results = list(
            pool.map(
                _pages,
                [str(STUDY_NOTES)] * workers,
                shares,
                [force_ocr] * workers,
                [out_dir] * workers,
            )
        )
        wall = time.perf_counter() - started
    return {
        "pages": len(indices),
        "wall_s": wall,
        "pages_per_s": len(indices) / wall,
        "s_per_page": wall / len(indices),
        "peak_mib": max(peak for _, peak in results),
    }


CASE_LABELS = {
    "born_digital": "born-digital PDF (text layer)",
    "scan_150": "scan 150 dpi",
    "scan_300": "scan 300 dpi",
    "photo": "photo PNG, 1.5° rotation, blur, noise",
    "exif_jpeg": "JPEG with EXIF orientation 6",
    "two_columns_scan": "two-column scan 200 dpi",
    "table_scan": "table scan 200 dpi",
    "chinese_scan": "Chinese scan 200 dpi",
}


def cer_cases() -> list[tuple[str, str, float, float]]:
    """(case, path taken, CER, seconds) for every generated case."""
    from docmill.engines.local import LocalEngine
    from tests.support import scans

    engine = LocalEngine()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        generated = scans.generate_cases(folder)
        english = generated["born_digital"]
        cases = {label: generated[name] for name, label in CASE_LABELS.items() if name in generated}
        engine.convert(english.path, folder / "warm", ConvertOptions(force_ocr=True))
        for name, sample in cases.items():
            started = time.perf_counter()
            document = engine.convert(sample.path, folder / "out", ConvertOptions())
            seconds = time.perf_counter() - started
            path = "text" if document.timings["pages_text_layer"] else "ocr"
            if name.startswith("table"):
                text = "\n".join(
                    b.text.replace("|", " ").replace("---", " ") for b in document.blocks
                )
            else:
                text = "\n".join(
                    b.text for b in document.blocks if b.type not in ("header", "footer")
                )
            if name.startswith("photo"):  # furniture is not split off on the rotated photo
                text = "\n".join(b.text for b in document.blocks)
                reference = "\n".join([scans.HEADER_TEXT, sample.text, scans.FOOTER_TEXT])
            else:
                reference = sample.text
            rows.append((name, path, scans.cer(reference, text), seconds))
        rows.append(study_notes_ocr_vs_text_layer(engine, folder, pages=[0, 1, 2]))
    return rows


def study_notes_ocr_vs_text_layer(
    engine: object, folder: Path, pages: list[int]
) -> tuple[str, str, float, float]:
    """Real pages: OCR at 200 dpi against the same pages' own text layer as reference."""
    from docmill.engines.local import LocalEngine
    from tests.support import scans

    assert isinstance(engine, LocalEngine)

    def body(force_ocr: bool) -> tuple[str, float]:
        started = time.perf_counter()
        results = engine.convert_pages(
            STUDY_NOTES, folder / "notes", ConvertOptions(force_ocr=force_ocr), pages
        )
        text = "\n".join(
            b.text
            for r in results
            for b in r.blocks
            if b.type not in ("header", "footer", "figure", "equation", "table")
        )
        return text, time.perf_counter() - started

    reference, _ = body(False)
    ocr_text, seconds = body(True)
    name = f"study_notes.pdf pages 1-{len(pages)} OCR vs their text layer"
    return (name, "ocr", scans.cer(reference, ocr_text), seconds)


def report(ocr_pages: int) -> str:
    # Taken before the bench's own work adds to it.
    load = "/".join(f"{value:.1f}" for value in os.getloadavg())
    total = 31
    text_1x2 = measure(1, 2, list(range(total)), False)
    text_2x1 = measure(2, 1, list(range(total)), False)
    ocr_indices = list(range(ocr_pages))
    ocr_1x2 = measure(1, 2, ocr_indices, True)
    ocr_2x1 = measure(2, 1, ocr_indices, True)
    lines = [
        "## local engine",
        "",
        f"Machine: {os.cpu_count()} CPUs, CPU only. Input: study_notes.pdf (A4, 31 pages, "
        f"bilingual); OCR path = the same pages with force_ocr (rendered at 200 dpi), first "
        f"{ocr_pages} pages. Models loaded before timing. Peak memory = max RSS of a worker. "
        f"Load average (1/5/15 min) before measuring: {load}; other work on the machine "
        "slows the numbers. The text-layer path still runs layout analysis on every page, "
        "and OCR on the pictures of text pasted into 15 of the 31 pages.",
        "",
        "| path | processes x onnx threads | pages | pages/s | s/page | peak MiB/worker |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, layout, row in (
        ("text layer", "1 x 2", text_1x2),
        ("text layer", "2 x 1", text_2x1),
        ("OCR", "1 x 2", ocr_1x2),
        ("OCR", "2 x 1", ocr_2x1),
    ):
        lines.append(
            f"| {name} | {layout} | {row['pages']:.0f} | {row['pages_per_s']:.2f} | "
            f"{row['s_per_page']:.2f} | {row['peak_mib']:.0f} |"
        )
    lines += ["", "| generated case | path | CER | seconds |", "| --- | --- | --- | --- |"]
    for name, path, error, seconds in cer_cases():
        lines.append(f"| {name} | {path} | {error * 100:.1f}% | {seconds:.2f} |")
    lines += [
        "",
        "CER = edit distance / reference length; whitespace runs count as one space, and "
        "none next to CJK characters. Headers and footers "
        "left out (they are not body text), except on the rotated photo. Table CER is over "
        "the cell texts of the recovered Markdown table.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ocr-pages", type=int, default=6)
    parser.add_argument("--write", type=Path, help="replace the local engine section of this file")
    args = parser.parse_args(argv)
    text = report(args.ocr_pages)
    if args.write is None:
        print(text)
        return
    existing = args.write.read_text() if args.write.exists() else "# Benchmarks\n\n"
    start = existing.find("## local engine")
    if start >= 0:
        end = existing.find("\n## ", start + 1)
        existing = existing[:start] + existing[end + 1 :] if end >= 0 else existing[:start]
    args.write.write_text(existing.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
