"""Operations: liveness, readiness and the API health check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from docmill.api.deps import ServicesDep, SessionDep, get_services
from docmill.api.envelope import ok
from docmill.api.schemas import HealthAnswer
from docmill.health import OFF, OK, probe_dependencies
from docmill.store.tasks import STATUSES, TaskRepository

router = APIRouter(tags=["operations"])


@router.get("/health", responses={200: {"model": HealthAnswer}})
async def health(request: Request) -> Response:
    """Alive: always 200 while serving. `degraded` names the failing dependency; the
    report is at most a few seconds old (`/ready` probes afresh)."""
    # A hot path: no dependency to solve (a sync one would hop to a thread), bytes kept.
    _, body = await get_services(request).health.report()
    return Response(body, media_type="application/json")


@router.get("/api/health")
async def api_health(services: ServicesDep) -> dict[str, Any]:
    """The `/health` report inside the envelope."""
    report, _ = await services.health.report()
    return ok(report.view())


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(services: ServicesDep, session: SessionDep) -> Response:
    """Prometheus text format. Task counts are read from the database at scrape time."""
    counts = await TaskRepository(session).counts_by_status()
    for status in STATUSES:
        services.metrics.tasks.labels(status).set(counts.get(status, 0))
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/ready")
async def ready(services: ServicesDep) -> JSONResponse:
    """Strict: 503 unless the database answers (and Redis, and MonkeyOCR when it is the
    default engine). Probes every dependency afresh."""
    states = await probe_dependencies(services)
    checks = {"redis_events" if name == "redis" else name: state for name, state in states.items()}
    # Only when it is the default engine does a MonkeyOCR outage make docmill unready;
    # otherwise uploads with other engines still work, and the check says "degraded".
    monkeyocr = checks.get("monkeyocr", OK)
    if monkeyocr != OK and services.settings.default_engine != "monkeyocr":
        checks["monkeyocr"] = "degraded: " + monkeyocr.removeprefix("error: ")
    ready = all(value in (OK, OFF) or value.startswith("degraded") for value in checks.values())
    body = (
        ok({"ready": ready, "checks": checks})
        if ready
        else {
            "success": False,
            "data": {"ready": False, "checks": checks},
            "message": "Not ready.",
            "error": "not_ready",
            "detail": "Not ready.",
        }
    )
    return JSONResponse(
        body, status_code=200 if ready else 503, headers=None if ready else {"Retry-After": "5"}
    )
