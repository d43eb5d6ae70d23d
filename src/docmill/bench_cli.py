"""`docmill bench`: run the benchmark suite of a source checkout (`python -m bench`).

Mount with `app.add_typer(bench_app, name="bench")` in `docmill.cli`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

bench_app = typer.Typer(help="Measure a fresh docmill server (see bench/README.md).")


def checkout_root() -> Path | None:
    """The source checkout this docmill was imported from, when it holds `bench/`."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "bench" / "__main__.py").is_file() else None


@bench_app.callback(invoke_without_command=True)
def bench(
    quick: bool = typer.Option(False, "--quick", help="A short run: small sizes, few tasks."),
    scale: float | None = typer.Option(
        None, help="Multiply file sizes and request budgets by this factor."
    ),
    only: str | None = typer.Option(None, help="Comma-separated scenario numbers (1–6)."),
    out: Path | None = typer.Option(None, help="Results JSON (default bench/out/results.json)."),
    record: bool | None = typer.Option(
        None, "--record/--no-record", help="Write bench/RESULTS.md (default: full runs only)."
    ),
) -> None:
    """Start a fresh server on a free port, run every scenario, print the table and write
    the results. Exits with the suite's status; 1 when there is no bench/ to run."""
    root = checkout_root()
    if root is None:
        typer.echo("docmill bench needs a source checkout (the bench/ folder).", err=True)
        raise typer.Exit(1)
    args = [sys.executable, "-m", "bench"]
    if quick:
        args.append("--quick")
    if scale is not None:
        args += ["--scale", str(scale)]
    if only:
        args += ["--only", only]
    if out is not None:
        args += ["--out", str(out.resolve())]
    if record is not None:
        args.append("--record" if record else "--no-record")
    raise typer.Exit(subprocess.run(args, cwd=root, check=False).returncode)
