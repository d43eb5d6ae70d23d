"""Tasks and their results. Every route with a task id gets it from OwnedTask/ReadableTask."""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from docmill.api.deps import (
    CurrentUser,
    OwnedTask,
    ReadableTask,
    ServicesDep,
    SessionDep,
    get_readable_task,
    user_from_request,
)
from docmill.api.envelope import ok, ok_off_loop
from docmill.api.files import send_file
from docmill.errors import Conflict, InvalidInput
from docmill.presenters import listed_view, task_view
from docmill.security import check_signature
from docmill.store.tasks import COMPLETED, STATUSES, Cursor, TaskRepository

router = APIRouter(tags=["tasks"])

IMMUTABLE = "private, max-age=31536000, immutable"


@router.get("/api/tasks")
async def list_tasks(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    q: Annotated[str | None, Query(max_length=255)] = None,
) -> Response:
    if status and status not in STATUSES:
        raise InvalidInput(f"'status' must be one of: {', '.join(STATUSES)}.")
    tasks, next_cursor = await TaskRepository(session).list_for_owner(
        user.id,
        limit=limit,
        cursor=Cursor.decode(cursor) if cursor else None,
        status=status or None,
        filename_contains=q or None,
    )
    headers = {}
    if next_cursor is not None:
        token = next_cursor.encode()
        next_url = request.url.include_query_params(cursor=token)
        headers = {"X-Next-Cursor": token, "Link": f'<{next_url}>; rel="next"'}
    return await ok_off_loop(lambda: [listed_view(task) for task in tasks], headers=headers)


@router.get("/api/tasks/{task_id}/status")
async def task_status(task: ReadableTask) -> dict[str, Any]:
    return ok(task_view(task))


@router.delete("/api/tasks/{task_id}")
async def delete_task(task: OwnedTask, services: ServicesDep) -> dict[str, Any]:
    await services.tasks.delete(task)
    return ok({"id": task.id}, "Task deleted.")


@router.post("/api/tasks/{task_id}/cancel")
async def cancel_task(task: OwnedTask, services: ServicesDep) -> dict[str, Any]:
    return ok(task_view(await services.tasks.cancel(task)), "Task cancelled.")


@router.post("/api/tasks/{task_id}/retry")
async def retry_task(task: OwnedTask, services: ServicesDep) -> JSONResponse:
    task = await services.tasks.retry(task)
    return JSONResponse(ok(task_view(task), "Task queued again."), status_code=202)


@router.get("/api/tasks/{task_id}/result")
async def task_result(task: ReadableTask, services: ServicesDep) -> dict[str, Any]:
    results = services.results
    document = await results.document(task)
    return ok(
        {
            "task_id": task.id,
            "markdown_content": results.markdown(task, document),
            "images": results.images(task, document),
            "download_url": f"/api/download/{task.id}",
            "metadata": results.metadata(task),
        }
    )


@router.get("/api/tasks/{task_id}/markdown")
async def task_markdown(task: ReadableTask, services: ServicesDep) -> dict[str, Any]:
    results = services.results
    document = await results.document(task)
    return ok(
        {"markdown_content": results.markdown(task, document), "metadata": results.metadata(task)}
    )


@router.get("/api/tasks/{task_id}/blocks")
async def task_blocks(task: ReadableTask, services: ServicesDep) -> dict[str, Any]:
    results = services.results
    document = await results.document(task)
    return ok(
        {
            **results.blocks(task, document),
            "total_pages": task.total_pages,
            "document_metadata": results.metadata(task)
            | {"warnings": document.warnings, "timings": document.timings},
        }
    )


@router.get("/api/tasks/{task_id}/images")
async def task_images(task: ReadableTask, services: ServicesDep) -> dict[str, Any]:
    results = services.results
    return ok(results.images(task, await results.document(task)))


@router.get("/api/tasks/{task_id}/preview")
async def task_preview(task: ReadableTask, services: ServicesDep) -> dict[str, Any]:
    original = services.tasks.original_path(task)
    exists = await asyncio.to_thread(original.exists)
    return ok(
        {
            "file_exists": exists,
            "preview_url": f"/api/files/{task.id}/original" if exists else None,
            "file_size": task.file_size,
            "file_type": task.file_type,
            "mime": task.mime,
            "total_pages": task.total_pages,
            "page_url_template": f"/api/tasks/{task.id}/pages/{{n}}",
        }
    )


@router.get("/api/tasks/{task_id}/pages/{page}")
async def task_page(
    task: ReadableTask, page: int, request: Request, services: ServicesDep
) -> Response:
    original = services.tasks.original_path(task)
    image = await services.results.page_image(task, original, page)
    return await send_file(
        request, image, media_type="image/png", headers={"Cache-Control": IMMUTABLE}
    )


@router.get("/api/files/{task_id}/original")
async def original_file(task: ReadableTask, request: Request, services: ServicesDep) -> Response:
    return await send_file(
        request,
        services.tasks.original_path(task),
        missing="The original file is missing.",
        media_type=task.mime,
        filename=task.filename,
        content_disposition_type="inline",
        headers={"ETag": f'"{task.file_hash}"', "X-Content-Type-Options": "nosniff"},
    )


@router.get("/api/download/{task_id}")
@router.head("/api/download/{task_id}", operation_id="head_download_result")
async def download_result(task: ReadableTask, request: Request, services: ServicesDep) -> Response:
    if task.status != COMPLETED:
        raise Conflict(
            f"The task is {task.status}; its result is not ready.", code="task_not_ready"
        )
    stem = PurePosixPath(task.filename).stem or "result"
    return await send_file(
        request,
        services.blobs.result_zip(task.id),
        missing="The result archive is missing.",
        media_type="application/zip",
        filename=f"{stem}.zip",
    )


@router.get("/media/{task_id}/{path:path}")
async def media(
    task_id: str,
    path: str,
    request: Request,
    services: ServicesDep,
    exp: int | None = None,
    sig: str | None = None,
) -> Response:
    """An extracted image: with a valid signature, or for a caller who may read the task."""
    key = services.settings.signing_key
    if exp is None or sig is None or not check_signature(f"{task_id}/{path}", exp, sig, key):
        user = await user_from_request(services, request)
        await get_readable_task(services, user, task_id)
    target, media_type = await asyncio.to_thread(services.results.media_file, task_id, path)
    return await send_file(
        request,
        target,
        media_type=media_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": IMMUTABLE,
            "Content-Security-Policy": "default-src 'none'",
        },
        filename=quote(PurePosixPath(path).name),
        content_disposition_type="inline",
    )
