"""Operations: liveness, readiness and the API health check."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from docmill import __version__
from docmill.api.deps import ServicesDep, SessionDep
from docmill.api.envelope import ok
from docmill.config import Settings
from docmill.store.tasks import STATUSES, TaskRepository

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health() -> dict[str, Any]:
    return {"status": "ok", "version": __version__}


@router.get("/api/health")
async def api_health() -> dict[str, Any]:
    return ok({"status": "ok", "version": __version__})


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(services: ServicesDep, session: SessionDep) -> Response:
    """Prometheus text format. Task counts are read from the database at scrape time."""
    counts = await TaskRepository(session).counts_by_status()
    for status in STATUSES:
        services.metrics.tasks.labels(status).set(counts.get(status, 0))
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def input_formats(settings: Settings) -> dict[str, Any]:
    """Which inputs this server takes; Office input only with LibreOffice (blocking: it
    looks for the program)."""
    from docmill.engines.office import ENABLE_HINT, network_isolated, soffice_path

    program = soffice_path(settings.office_soffice)
    office: dict[str, Any] = {
        "enabled": program is not None,
        "soffice": program,
        "timeout_s": settings.office_timeout_s,
        "max_memory_mb": settings.office_max_memory_mb,
    }
    if program is None:
        office["hint"] = ENABLE_HINT
    else:
        office["network_isolated"] = network_isolated()
    return {
        "office": office,
        "markup": {"enabled": True, "max_mb": settings.max_markup_mb},
        "formats": ["pdf", "image", "html", "markdown", "email"]
        + (["docx", "xlsx", "pptx", "doc", "xls", "ppt"] if program else []),
    }


@router.get("/ready")
async def ready(services: ServicesDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        async with services.db.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready", reported as such
        checks["database"] = f"error: {type(exc).__name__}"
    checks["job_runner"] = "ok" if services.runner is not None else "off"
    if services.settings.monkeyocr_url:
        from docmill.engines.monkeyocr import check_health

        settings = services.settings
        # Only when it is the default engine does a MonkeyOCR outage make docmill unready;
        # otherwise uploads with other engines still work, and the check says "degraded".
        if await check_health(settings):
            checks["monkeyocr"] = "ok"
        elif settings.default_engine == "monkeyocr":
            checks["monkeyocr"] = "error: unreachable or unhealthy"
        else:
            checks["monkeyocr"] = "degraded: unreachable or unhealthy"
    if services.settings.redis_url:
        checks["redis_events"] = "ok" if services.events.connected else "error: not connected"
    inputs = await asyncio.to_thread(input_formats, services.settings)
    checks["office_input"] = "ok" if inputs["office"]["enabled"] else "off"
    ready = all(value in ("ok", "off") or value.startswith("degraded") for value in checks.values())
    body = (
        ok({"ready": ready, "checks": checks, "inputs": inputs})
        if ready
        else {
            "success": False,
            "data": {"ready": False, "checks": checks, "inputs": inputs},
            "message": "Not ready.",
            "error": "not_ready",
            "detail": "Not ready.",
        }
    )
    return JSONResponse(
        body, status_code=200 if ready else 503, headers=None if ready else {"Retry-After": "5"}
    )
