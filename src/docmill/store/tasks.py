"""TaskRepository: every query the service runs on tasks, their history and tombstones."""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import Row, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from docmill.errors import InvalidInput
from docmill.store.models import Task, TaskStatusEvent, TaskTombstone, utcnow
from docmill.store.webhooks import EVENTS, WebhookRepository

AnyRow: TypeAlias = Row[*tuple[Any, ...]]
"""A result row of any width."""

PENDING = "pending"
PROCESSING = "processing"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
STATUSES = (PENDING, PROCESSING, COMPLETED, FAILED, CANCELLED)
FINISHED = (COMPLETED, FAILED, CANCELLED)


def progress_percent(pages_done: int, total_pages: int) -> int:
    """0–99 while running: 100 is kept for `completed`."""
    return min(int(100 * pages_done / total_pages), 99) if total_pages else 0


@dataclass(frozen=True)
class Cursor:
    """Keyset position: the (created_at, id) of the last task of a page."""

    created_at: datetime
    task_id: str

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.task_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            stamp, task_id = raw.split("|", 1)
            return cls(datetime.fromisoformat(stamp), task_id)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidInput("The cursor is not valid.", code="invalid_cursor") from exc


@dataclass(frozen=True)
class ListedTask:
    """A task as read for listings: its columns (attribute access like a Task) and its
    status history, oldest first."""

    task: AnyRow
    history: list[AnyRow]


class TaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, task: Task, message: str) -> Task:
        """Insert a new task with its first status event."""
        now = utcnow()
        task.created_at = task.updated_at = now
        self.session.add(task)
        self.session.add(
            TaskStatusEvent(task_id=task.id, status=task.status, message=message, timestamp=now)
        )
        await self.session.flush()
        if task.status in FINISHED:
            await self._ended(task.id)
        return task

    async def get(self, task_id: str, *, with_history: bool = True) -> Task | None:
        query = select(Task).where(Task.id == task_id)
        if with_history:
            query = query.options(selectinload(Task.history))
        return (await self.session.execute(query)).scalar_one_or_none()

    async def list_for_owner(
        self,
        owner_id: int,
        *,
        limit: int,
        cursor: Cursor | None = None,
        status: str | None = None,
        filename_contains: str | None = None,
    ) -> tuple[list[ListedTask], Cursor | None]:
        """A page of the owner's tasks, newest first, and the cursor of the next page.
        Two statements: the tasks, then all their status histories."""
        query = (
            select(*Task.__table__.c)
            .where(Task.owner_id == owner_id)
            .order_by(Task.created_at.desc(), Task.id.desc())
            .limit(limit + 1)
        )
        if cursor is not None:
            query = query.where(
                or_(
                    Task.created_at < cursor.created_at,
                    and_(Task.created_at == cursor.created_at, Task.id < cursor.task_id),
                )
            )
        if status:
            query = query.where(Task.status == status)
        if filename_contains:
            escaped = (
                filename_contains.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
            )
            query = query.where(Task.filename.ilike(f"%{escaped}%", escape="\\"))
        rows = list((await self.session.execute(query)).all())
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = Cursor(rows[-1].created_at, rows[-1].id)
        return await self._with_histories(rows), next_cursor

    async def changed_since(self, owner_id: int, since: datetime | None) -> list[ListedTask]:
        """The owner's tasks changed after `since` (all when None), with their histories.
        Two statements, however many tasks there are."""
        query = (
            select(*Task.__table__.c)
            .where(Task.owner_id == owner_id)
            .order_by(Task.created_at.desc(), Task.id.desc())
        )
        if since is not None:
            query = query.where(Task.updated_at > since)
        return await self._with_histories(list((await self.session.execute(query)).all()))

    async def _with_histories(self, rows: list[AnyRow]) -> list[ListedTask]:
        """Task rows paired with their status histories, read in one statement as plain
        rows (several times cheaper than building ORM collections)."""
        if not rows:
            return []
        events = TaskStatusEvent.__table__.c
        history = await self.session.execute(
            select(events.task_id, events.status, events.message, events.timestamp)
            .where(events.task_id.in_([row.id for row in rows]))
            .order_by(events.id)
        )
        by_task: dict[str, list[AnyRow]] = defaultdict(list)
        for event in history:
            by_task[event.task_id].append(event)
        return [ListedTask(row, by_task[row.id]) for row in rows]

    async def deleted_since(self, owner_id: int, since: datetime) -> list[str]:
        query = select(TaskTombstone.task_id).where(
            TaskTombstone.owner_id == owner_id, TaskTombstone.deleted_at > since
        )
        return list((await self.session.execute(query)).scalars().all())

    async def counts_for_owner(self, owner_id: int) -> dict[str, int]:
        """Task counts of one owner by status, plus `total` and `public`."""
        rows = await self.session.execute(
            select(Task.status, Task.is_public, func.count())
            .where(Task.owner_id == owner_id)
            .group_by(Task.status, Task.is_public)
        )
        counts = dict.fromkeys(STATUSES, 0) | {"total": 0, "public": 0}
        for status, is_public, count in rows:
            counts[status] = counts.get(status, 0) + count
            counts["total"] += count
            if is_public:
                counts["public"] += count
        return counts

    async def counts_by_status(self) -> dict[str, int]:
        """Task counts of all users by status."""
        rows = await self.session.execute(select(Task.status, func.count()).group_by(Task.status))
        return {status: count for status, count in rows}

    async def last_change_for_owner(self, owner_id: int) -> tuple[datetime | None, datetime | None]:
        """(latest task update, latest deletion) of the owner: the data version."""
        updated = await self.session.scalar(
            select(func.max(Task.updated_at)).where(Task.owner_id == owner_id)
        )
        deleted = await self.session.scalar(
            select(func.max(TaskTombstone.deleted_at)).where(TaskTombstone.owner_id == owner_id)
        )
        return updated, deleted

    async def find_cached(self, cache_key: str) -> Task | None:
        """A completed task with this cache key whose result can be reused."""
        query = (
            select(Task)
            .where(Task.cache_key == cache_key, Task.status == COMPLETED)
            .order_by(Task.completed_at.desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def note(self, task_id: str, message: str) -> None:
        """Add `message` to the task's history under its current status (a change
        clients see, so `updated_at` moves too)."""
        now = utcnow()
        status = (
            await self.session.execute(
                update(Task)
                .where(Task.id == task_id)
                .values(updated_at=now)
                .returning(Task.status)
                .execution_options(synchronize_session=False)
            )
        ).scalar_one_or_none()
        if status is not None:
            self.session.add(
                TaskStatusEvent(task_id=task_id, status=status, message=message, timestamp=now)
            )
            await self.session.flush()

    async def children(self, parent_id: str) -> list[ListedTask]:
        """The tasks made of a task's attachments, oldest first, with their histories."""
        query = (
            select(*Task.__table__.c)
            .where(Task.parent_id == parent_id)
            .order_by(Task.created_at, Task.id)
        )
        rows = list((await self.session.execute(query)).all())
        return await self._with_histories(rows)

    async def transition(
        self,
        task_id: str,
        status: str,
        message: str = "",
        *,
        only_from: Sequence[str] | None = None,
        held_by: str | None = None,
        **fields: Any,
    ) -> bool:
        """Move a task to `status` with a history event, if it is in one of `only_from`
        (and claimed by `held_by` when given). Returns whether the row changed."""
        now = utcnow()
        query = update(Task).where(Task.id == task_id)
        if only_from is not None:
            query = query.where(Task.status.in_(only_from))
        if held_by is not None:
            query = query.where(Task.claimed_by == held_by)
        result = await self.session.execute(
            query.values(status=status, updated_at=now, **fields).execution_options(
                synchronize_session=False
            )
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            return False
        self.session.add(
            TaskStatusEvent(task_id=task_id, status=status, message=message, timestamp=now)
        )
        await self.session.flush()
        if status in FINISHED:
            await self._ended(task_id)
        return True

    async def _ended(self, task_id: str) -> None:
        """A task has just been written with a final status: its webhook delivery (if any)
        is written in the same transaction. Every runner ends tasks through `transition`
        or `add`, so every runner's tasks are delivered."""
        webhooks = WebhookRepository(self.session)
        url = await webhooks.target_url(task_id)
        if url is None:
            return
        from docmill.presenters import task_view  # presenters imports this module

        task = (
            await self.session.execute(
                select(Task)
                .where(Task.id == task_id)
                .options(selectinload(Task.history))
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        payload = {"event": EVENTS[task.status], "task": task_view(task)}
        await webhooks.enqueue(task, url, payload)

    async def set_progress(
        self, task_id: str, claimed_by: str, pages_done: int, total_pages: int
    ) -> int | None:
        """Record progress of a task this runner holds; its owner's id, or None when the
        task is no longer ours (cancelled, deleted)."""
        now = utcnow()
        result = await self.session.execute(
            update(Task)
            .where(Task.id == task_id, Task.status == PROCESSING, Task.claimed_by == claimed_by)
            .values(
                pages_done=pages_done,
                total_pages=total_pages,
                progress=progress_percent(pages_done, total_pages),
                updated_at=now,
                heartbeat_at=now,
            )
            .returning(Task.owner_id)
            .execution_options(synchronize_session=False)
        )
        return result.scalar_one_or_none()

    async def claim_next(self, instance_id: str) -> str | None:
        """Claim the oldest pending task for `instance_id`; its id, or None when idle."""
        oldest = (
            select(Task.id)
            .where(Task.status == PENDING)
            .order_by(Task.created_at, Task.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        task_id = (await self.session.execute(oldest)).scalar_one_or_none()
        if task_id is None:
            return None
        now = utcnow()
        claimed = await self.transition(
            task_id,
            PROCESSING,
            "Processing started.",
            only_from=(PENDING,),
            claimed_by=instance_id,
            processing_started_at=now,
            heartbeat_at=now,
            attempts=Task.attempts + 1,
        )
        return task_id if claimed else None

    async def heartbeat(self, instance_id: str, task_ids: Sequence[str]) -> None:
        if not task_ids:
            return
        await self.session.execute(
            update(Task)
            .where(Task.id.in_(task_ids), Task.claimed_by == instance_id)
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )

    async def requeue_abandoned(
        self, lease: timedelta, instance_id: str | None = None
    ) -> list[str]:
        """Put `processing` tasks whose runner stopped heartbeating (or, given `instance_id`,
        that this runner held) back to `pending`. Returns their ids."""
        condition = Task.heartbeat_at < utcnow() - lease
        if instance_id is not None:
            condition = or_(condition, Task.claimed_by == instance_id)
        ids = (
            (
                await self.session.execute(
                    select(Task.id).where(Task.status == PROCESSING, condition)
                )
            )
            .scalars()
            .all()
        )
        requeued = []
        for task_id in ids:
            if await self.transition(
                task_id,
                PENDING,
                "Requeued: the worker running it stopped.",
                only_from=(PROCESSING,),
                claimed_by=None,
                heartbeat_at=None,
            ):
                requeued.append(task_id)
        return requeued

    async def delete(self, task: Task) -> None:
        """Delete the task row (history cascades) and leave a tombstone for sync."""
        await self.session.execute(delete(Task).where(Task.id == task.id))
        self.session.add(TaskTombstone(task_id=task.id, owner_id=task.owner_id))
        await self.session.flush()

    async def purge_tombstones(self, older_than: datetime) -> None:
        await self.session.execute(
            delete(TaskTombstone).where(TaskTombstone.deleted_at < older_than)
        )
