"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.routing import Route

from docmill import __version__
from docmill.api.envelope import install_error_handlers
from docmill.api.routes import (
    auth,
    chunks,
    health,
    live,
    llm,
    sync,
    tasks,
    translate,
    upload,
    webhooks,
)
from docmill.api.routes.llm import install_llm_error_handler
from docmill.config import Settings
from docmill.mcp_server import http_endpoint
from docmill.metrics import Metrics, MetricsMiddleware
from docmill.services import Services


def create_app(settings: Settings | None = None, *, run_jobs: bool = True) -> FastAPI:
    """The docmill app. Its services start with the app's lifespan and stop with it."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await Services.start(settings, run_jobs=run_jobs, metrics=metrics)
        app.state.services = services
        try:
            async with mcp.run():
                yield
        finally:
            await services.close()

    app = FastAPI(
        title="docmill",
        version=__version__,
        description="PDFs and images to Markdown, blocks and images.",
        lifespan=lifespan,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Next-Cursor", "Link", "ETag"],
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    install_error_handlers(app)
    install_llm_error_handler(app)
    for module in (health, auth, upload, tasks, chunks, sync, live, llm, translate, webhooks):
        app.include_router(module.router)
    mcp = http_endpoint(app, settings)
    app.router.routes.append(Route("/mcp", mcp, include_in_schema=False))
    return app
