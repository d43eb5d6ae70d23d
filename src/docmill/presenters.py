"""Tasks as clients see them (`ProcessingTask` of API.md), for responses and events alike."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from docmill.store.models import Task, TaskStatusEvent
from docmill.store.tasks import COMPLETED, AnyRow, ListedTask


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def history_view(event: TaskStatusEvent | AnyRow) -> dict[str, Any]:
    return {"status": event.status, "timestamp": iso(event.timestamp), "message": event.message}


def task_view(
    task: Task | AnyRow, history: Sequence[TaskStatusEvent | AnyRow] | None = None
) -> dict[str, Any]:
    """The ProcessingTask payload of a Task (or a row of its columns). `history`
    defaults to the task's loaded history."""
    events = task.history if history is None else history
    duration = None
    if task.processing_started_at is not None and task.completed_at is not None:
        duration = round((task.completed_at - task.processing_started_at).total_seconds(), 3)
    return {
        "id": task.id,
        "filename": task.filename,
        "file_type": task.file_type,
        "status": task.status,
        "progress": 100 if task.status == COMPLETED else task.progress,
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
        "completed_at": iso(task.completed_at),
        "processing_started_at": iso(task.processing_started_at),
        "processing_duration": duration,
        "error_message": task.error_message,
        "result_url": f"/api/tasks/{task.id}/result" if task.status == COMPLETED else None,
        "file_hash": task.file_hash,
        "file_size": task.file_size,
        "total_pages": task.total_pages,
        "pages_done": task.pages_done,
        "engine": task.engine,
        "from_cache": task.from_cache,
        "user_id": task.owner_id,
        "is_public": task.is_public,
        "parent_id": task.parent_id,
        "status_history": [history_view(event) for event in events],
        "metadata": {"mime": task.mime, "options": task.options, **task.result_meta},
    }


def listed_view(listed: ListedTask) -> dict[str, Any]:
    return task_view(listed.task, listed.history)


def updated_event(task: Task) -> dict[str, Any]:
    return {"type": "task.updated", "task": task_view(task)}


def progress_event(task_id: str, progress: int, pages_done: int, total: int) -> dict[str, Any]:
    return {
        "type": "task.progress",
        "task_id": task_id,
        "progress": progress,
        "pages_done": pages_done,
        "total_pages": total,
    }


def deleted_event(task_id: str) -> dict[str, Any]:
    return {"type": "task.deleted", "task_id": task_id}
