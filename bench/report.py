"""The results table (text and Markdown), results.json and RESULTS.md."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

import docmill

COLUMNS = (
    ("scenario", "scenario"),
    ("name", "what"),
    ("size", "size"),
    ("requests", "req"),
    ("concurrency", "conc"),
    ("p50_ms", "p50 ms"),
    ("p95_ms", "p95 ms"),
    ("p99_ms", "p99 ms"),
    ("rate", "rate"),
    ("errors", "err"),
    ("server_peak_rss_mb", "peak RSS MB"),
    ("server_rss_growth_mb", "RSS Δ MB"),
    ("tree_peak_rss_mb", "tree peak MB"),
    ("tree_rss_growth_mb", "tree Δ MB"),
)


def _cell(result: dict[str, Any], key: str) -> str:
    if key == "rate":
        if result.get("rate_unit") == "n/a":
            return "n/a"
        value = result.get("rate")
        return "" if value is None else f"{value:g} {result.get('rate_unit', '')}".strip()
    value = result.get(key)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def text_table(results: Sequence[dict[str, Any]]) -> str:
    """An aligned plain-text table of the results, notes below it, numbered."""
    header = [title for _, title in COLUMNS] + ["#"]
    body = []
    notes = []
    for index, result in enumerate(results, start=1):
        body.append([_cell(result, key) for key, _ in COLUMNS] + [str(index)])
        if result.get("note"):
            notes.append(f"[{index}] {result['note']}")
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def render(line: list[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))

    lines = [render(header), render(["-" * width for width in widths])]
    lines += [render(line) for line in body]
    return "\n".join([*lines, "", *notes])


def markdown_table(results: Sequence[dict[str, Any]]) -> str:
    """The results as a Markdown table with a notes column."""
    header = [title for _, title in COLUMNS] + ["note"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for result in results:
        cells = [_cell(result, key) for key, _ in COLUMNS] + [str(result.get("note", ""))]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit(folder: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def machine() -> dict[str, Any]:
    """The machine the numbers come from."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def metadata(
    plan: dict[str, Any], folder: Path, elapsed_s: float, load_before: list[float]
) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_before": load_before,
        "machine": machine(),
        "docmill": docmill.__version__,
        "commit": _git_commit(folder),
        "elapsed_s": round(elapsed_s, 1),
        "plan": plan,
    }


def write_json(path: Path, meta: dict[str, Any], results: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "results": list(results)}, indent=2) + "\n")


HEADING = "# Benchmarks"
BEGIN = "<!-- bench:service begin (written by python -m bench) -->"
END = "<!-- bench:service end -->"


def service_section(meta: dict[str, Any], results: Sequence[dict[str, Any]], command: str) -> str:
    """The Markdown section of a run: when, on what, with which command, and the table."""
    host = meta["machine"]
    lines = [
        BEGIN,
        "## Service: `python -m bench`",
        "",
        "A fresh `docmill serve` measured over HTTP; how each scenario is measured is in "
        "`bench/README.md`.",
        "",
        f"- date: {meta['date']}",
        f"- machine: {host['cpu']}, {host['cores']} cores, {host['ram_gb']} GB RAM, {host['os']}",
        f"- load average before the run (1, 5, 15 min): {meta['load_before']}; the machine "
        "is shared, so numbers move with its load",
        f"- python {host['python']}, docmill {meta['docmill']}"
        + (f" (commit {meta['commit']})" if meta.get("commit") else ""),
        f"- command: `{command}`, {meta['elapsed_s']} s in all",
        "",
        "RSS columns: *peak RSS* is the server process's peak resident set during the "
        "scenario (VmHWM, reset at the scenario's start through `/proc/PID/clear_refs`); "
        "*RSS Δ* is that peak minus the RSS at the start. *tree* is the same summed over "
        "the server and its children (engine workers, the multiprocessing manager): a sum "
        "of peaks, so an upper bound. Latencies of upload, download and conversion rows "
        "are per whole upload, download or document.",
        "",
        markdown_table(results),
        END,
    ]
    return "\n".join(lines)


def write_markdown(
    path: Path, meta: dict[str, Any], results: Sequence[dict[str, Any]], command: str
) -> None:
    """Write this run's section into RESULTS.md, keeping every other section of the file
    (other benchmarks record their own)."""
    section = service_section(meta, results, command)
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + section + tail
    else:
        others = text.strip()
        if others.startswith(HEADING):
            others = others[len(HEADING) :].lstrip("\n")
        text = f"{HEADING}\n\n{section}\n" + (f"\n{others}\n" if others else "")
    path.write_text(text)
