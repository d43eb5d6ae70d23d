"""`docmill dev …`: development helpers (mounted by the main CLI)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

dev = typer.Typer(help="Development helpers.", no_args_is_help=True)


@dev.command("fake-monkeyocr")
def fake_monkeyocr(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(7861, help="Port to listen on."),
    folder: Path | None = typer.Option(None, help="Where result ZIPs go (default: a temp dir)."),
    mode: str = typer.Option("ok", help="Misbehaviour to start with (see Behaviour.mode)."),
) -> None:
    """Run a stand-in MonkeyOCR server (`/health`, `/parse`, `/parse/split`, `/static`).
    Change its behaviour at run time with `POST /_control {"mode": ...}`."""
    import uvicorn

    from docmill.devtools.fake_monkeyocr import Behaviour, FakeMonkeyOCR

    with tempfile.TemporaryDirectory(prefix="fake-monkeyocr-") as scratch:
        fake = FakeMonkeyOCR(folder or Path(scratch), Behaviour(mode=mode))  # type: ignore[arg-type]
        fake.port = port
        typer.echo(f"Stand-in MonkeyOCR on http://{host}:{port} (mode {mode})")
        uvicorn.run(fake.app, host=host, port=port, log_level="info", timeout_graceful_shutdown=1)
