"""The `task_translations` table: one row per (task, target language), and its repository.

The row holds the state of the translation job; the translated blocks themselves are a
file in the task's folder (`translations/<lang>.json`), so they go when the task goes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from docmill.store.models import Base, utcnow

PENDING, PROCESSING, COMPLETED, FAILED = "pending", "processing", "completed", "failed"
UNFINISHED = (PENDING, PROCESSING)


class TaskTranslation(Base):
    __tablename__ = "task_translations"

    task_id: Mapped[str] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    target_lang: Mapped[str] = mapped_column(String(16), primary_key=True)
    source_lang: Mapped[str] = mapped_column(String(16), default="auto")
    engine: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=PENDING, index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    blocks_done: Mapped[int] = mapped_column(Integer, default=0)
    blocks_total: Mapped[int] = mapped_column(Integer, default=0)
    blocks_failed: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class TranslationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, task_id: str, target_lang: str) -> TaskTranslation | None:
        return await self.session.get(TaskTranslation, (task_id, target_lang))

    async def list_for_task(self, task_id: str) -> list[TaskTranslation]:
        query = select(TaskTranslation).where(TaskTranslation.task_id == task_id)
        return list((await self.session.scalars(query.order_by(TaskTranslation.target_lang))).all())

    async def unfinished(self) -> list[TaskTranslation]:
        query = select(TaskTranslation).where(TaskTranslation.status.in_(UNFINISHED))
        return list((await self.session.scalars(query)).all())

    async def start(
        self, task_id: str, target_lang: str, source_lang: str, engine: str
    ) -> TaskTranslation:
        """The row set back to pending for a fresh run (created when absent)."""
        row = await self.get(task_id, target_lang)
        if row is None:
            row = TaskTranslation(task_id=task_id, target_lang=target_lang, engine=engine)
            self.session.add(row)
        row.source_lang = source_lang
        row.engine = engine
        row.status = PENDING
        row.progress = row.blocks_done = row.blocks_total = row.blocks_failed = 0
        row.error_message = None
        row.completed_at = None
        row.updated_at = utcnow()
        await self.session.flush()
        return row

    async def update(self, task_id: str, target_lang: str, **values: object) -> None:
        stmt = (
            update(TaskTranslation)
            .where(TaskTranslation.task_id == task_id, TaskTranslation.target_lang == target_lang)
            .values(updated_at=utcnow(), **values)
        )
        await self.session.execute(stmt)
