"""Incremental sync of the caller's tasks, and their counts and data version."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse

from docmill.api.deps import CurrentUser, ServicesDep, SessionDep
from docmill.api.envelope import ok, ok_off_loop
from docmill.pipeline.sync import (
    SyncPolicy,
    changes_since,
    data_version,
    matches_etag,
    parse_timestamp,
)
from docmill.presenters import iso, listed_view
from docmill.store.models import utcnow
from docmill.store.tasks import STATUSES, TaskRepository

router = APIRouter(tags=["sync"])


@router.get("/api/sync", response_model=None)
async def sync(
    user: CurrentUser,
    services: ServicesDep,
    session: SessionDep,
    last_sync: Annotated[str | None, Query(max_length=64)] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    since = parse_timestamp(last_sync) if last_sync else None
    policy = SyncPolicy.from_settings(services.settings)
    now = utcnow()  # before any query: a change committed meanwhile is caught next time
    version = await data_version(session, user.id, policy, now)
    headers = _cache_headers(version.etag)
    if matches_etag(if_none_match, version.etag):
        return Response(status_code=304, headers=headers)
    async with services.heavy_reads:
        result = await changes_since(session, user.id, since, policy, now)
        return await ok_off_loop(
            lambda: {
                "tasks": [listed_view(task) for task in result.tasks],
                "deleted_ids": result.deleted_ids,
                "server_timestamp": iso(result.server_timestamp),
                "total_count": result.total_count,
                "sync_type": result.sync_type,
            },
            headers=headers,
        )


@router.get("/api/sync/status")
async def sync_status(
    user: CurrentUser, services: ServicesDep, session: SessionDep
) -> JSONResponse:
    now = utcnow()
    policy = SyncPolicy.from_settings(services.settings)
    version = await data_version(session, user.id, policy, now)
    counts = await TaskRepository(session).counts_for_owner(user.id)
    data = {
        "counts": counts,
        "total_count": counts["total"],
        "data_version": version.etag,
        "data_hash": version.data_hash,
        "task_stats": {status: counts[status] for status in STATUSES},
        "last_change": iso(version.last_change),
        "server_timestamp": iso(now - policy.settle),
    }
    return JSONResponse(ok(data), headers=_cache_headers(version.etag))


def _cache_headers(etag: str | None) -> dict[str, str]:
    if etag is None:
        return {"Cache-Control": "no-store"}
    return {"ETag": etag, "Cache-Control": "private, no-cache"}
