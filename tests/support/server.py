"""A real docmill server on 127.0.0.1, run by uvicorn inside the test's event loop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from docmill.api.app import create_app
from docmill.config import Settings
from docmill.services import Services


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    app: FastAPI
    base_url: str
    settings: Settings

    @property
    def services(self) -> Services:
        return self.app.state.services  # type: ignore[no-any-return]

    def client(self, token: str | None = None, **kwargs: object) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=60, **kwargs)


class _QuietServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test runner keeps its own handlers
        return None


@asynccontextmanager
async def live_server(settings: Settings, *, run_jobs: bool = True) -> AsyncIterator[LiveServer]:
    """Start docmill on a free port; stop it (without finishing jobs) on exit."""
    app = create_app(settings, run_jobs=run_jobs)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = _QuietServer(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
            raise RuntimeError("docmill did not start")
        await asyncio.sleep(0.02)
    try:
        yield LiveServer(app, f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        await serving


def settings_env(settings: Settings) -> dict[str, str]:
    """The DOCMILL_* variables that give a child process these settings."""
    env = {}
    for name, value in settings.model_dump(exclude_none=True).items():
        if isinstance(value, list):
            value = ",".join(value)
        env[f"DOCMILL_{name.upper()}"] = str(value)
    return env


@contextmanager
def server_process(settings: Settings) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`docmill serve` in its own process group; yields (process, base URL) once healthy.
    The whole group is killed with SIGKILL on exit (no graceful stop)."""
    root = Path(__file__).resolve().parents[2]
    env = (
        os.environ
        | settings_env(settings)
        | {
            "PYTHONPATH": os.pathsep.join([str(root), str(root / "src")]),
        }
    )
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "docmill.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("docmill serve did not become healthy")
            time.sleep(0.1)
        yield process, base_url
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident set size (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")
