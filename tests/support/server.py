"""A real docmill server on 127.0.0.1, run by uvicorn inside the test's event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

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
