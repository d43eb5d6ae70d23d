"""Fast seeding of a user's tasks straight into the database through the project's own
tables (SQLAlchemy Core bulk inserts), so the list, status and sync routes can be
measured with thousands of tasks without converting anything."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from docmill.store.db import create_engine
from docmill.store.models import Task, TaskStatusEvent

BATCH = 2000
TASKS = Task.metadata.tables[Task.__tablename__]
EVENTS = TaskStatusEvent.metadata.tables[TaskStatusEvent.__tablename__]


def _rows(
    owner_id: int, start: int, count: int, base: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of `count` completed tasks and of their status events."""
    tasks: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for number in range(start, start + count):
        task_id = str(uuid.uuid4())
        created = base + timedelta(seconds=number)
        started = created + timedelta(seconds=1)
        done = created + timedelta(seconds=3)
        digest = hashlib.sha256(f"bench-{owner_id}-{number}".encode()).hexdigest()
        tasks.append(
            {
                "id": task_id,
                "owner_id": owner_id,
                "filename": f"seeded-{number:05d}.pdf",
                "file_type": "pdf",
                "mime": "application/pdf",
                "file_hash": digest,
                "file_size": 100_000 + number,
                "engine": "pdf_text",
                "options": {},
                "cache_key": hashlib.sha256(f"{digest}|pdf_text".encode()).hexdigest(),
                "is_public": False,
                "from_cache": False,
                "status": "completed",
                "progress": 100,
                "pages_done": 3,
                "total_pages": 3,
                "error_message": None,
                "result_meta": {"total_pages": 3},
                "created_at": created,
                "updated_at": done,
                "processing_started_at": started,
                "completed_at": done,
                "claimed_by": None,
                "heartbeat_at": None,
                "attempts": 1,
            }
        )
        for status, stamp, message in (
            ("pending", created, "Queued for processing."),
            ("processing", started, "Processing started."),
            ("completed", done, "Completed."),
        ):
            events.append(
                {"task_id": task_id, "status": status, "message": message, "timestamp": stamp}
            )
    return tasks, events


async def seed_tasks(database_url: str, owner_id: int, start: int, count: int) -> list[str]:
    """Insert `count` completed tasks (numbered from `start`, each with its three status
    events) for `owner_id`, dated in the past so they sort older than real uploads.
    Returns their ids."""
    engine = create_engine(database_url, pool_size=1)
    base = datetime.now(UTC) - timedelta(days=30)
    ids: list[str] = []
    try:
        for offset in range(0, count, BATCH):
            size = min(BATCH, count - offset)
            tasks, events = _rows(owner_id, start + offset, size, base)
            async with engine.begin() as connection:
                await connection.execute(insert(TASKS), tasks)
                await connection.execute(insert(EVENTS), events)
            ids += [row["id"] for row in tasks]
    finally:
        await engine.dispose()
    return ids
