"""Translating every block of a completed task, in the background, one language at a time.

The job's state is a `task_translations` row; the result is the task's Document with
translated block texts, kept as `translations/<lang>.json` in the task's folder, so the
same readers (blocks, Markdown with signed image links) serve both. Equations, figures
and page furniture are kept as they are; tables keep their structure (the batch service
protects HTML tags and LaTeX). Jobs left unfinished by a stopped process start again at
the next start-up (`resume`); translations already made come from the cache then.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from docmill.document import Block, Document
from docmill.errors import Conflict, DocmillError, NotFound
from docmill.events import EventBus
from docmill.pipeline.results import ResultReader
from docmill.store.blobs import BlobStore, write_atomic
from docmill.store.db import transaction
from docmill.store.models import Task, utcnow
from docmill.store.tasks import COMPLETED as TASK_COMPLETED
from docmill.store.tasks import TaskRepository
from docmill.store.translations import (
    COMPLETED,
    FAILED,
    PROCESSING,
    TaskTranslation,
    TranslationRepository,
)
from docmill.translation.base import check_lang
from docmill.translation.batch import BatchItem
from docmill.translation.engines import TranslationEngines

logger = logging.getLogger(__name__)

TRANSLATABLE = frozenset(
    {"title", "text", "list", "table", "figure_caption", "table_caption", "reference"}
)
TRANSLATIONS_DIR = "translations"
PROGRESS_EVERY_S = 0.5  # at most this often a progress write + event per job


def translation_view(row: TaskTranslation) -> dict[str, Any]:
    return {
        "task_id": row.task_id,
        "target_lang": row.target_lang,
        "source_lang": row.source_lang,
        "engine": row.engine,
        "status": row.status,
        "progress": row.progress,
        "blocks_done": row.blocks_done,
        "blocks_total": row.blocks_total,
        "blocks_failed": row.blocks_failed,
        "error_message": row.error_message,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "completed_at": row.completed_at.isoformat() if row.completed_at else None,
    }


def _source_text(block: Block) -> str:
    if block.type not in TRANSLATABLE:
        return ""
    if block.type == "table" and not block.text.strip():
        return block.html or ""
    return block.text


@dataclass(frozen=True)
class _Job:
    task_id: str
    owner_id: int
    target_lang: str
    source_lang: str
    engine: str


class DocumentTranslations:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        blobs: BlobStore,
        events: EventBus,
        results: ResultReader,
        engines: TranslationEngines,
    ) -> None:
        self._sessions = sessions
        self._blobs = blobs
        self._events = events
        self._results = results
        self._engines = engines
        self._running: dict[tuple[str, str], asyncio.Task[None]] = {}

    def _file(self, task_id: str, lang: str) -> Path:
        return self._blobs.task_dir(task_id) / TRANSLATIONS_DIR / f"{lang}.json"

    async def start(
        self, task: Task, target_lang: str, source_lang: str = "auto", engine: str | None = None
    ) -> TaskTranslation:
        """Queue the translation of `task` into `target_lang`; returns its row.

        Raises Conflict (task not completed, or this translation already running),
        InvalidInput, UnknownEngine, TranslatorNotConfigured.
        """
        check_lang(target_lang, "target_lang")
        check_lang(source_lang, "source_lang", allow_auto=True)
        if task.status != TASK_COMPLETED:
            raise Conflict(
                f"The task is {task.status}; only a completed task can be translated.",
                code="task_not_ready",
            )
        engine_name = self._engines.service(engine).translator.name
        running = self._running.get((task.id, target_lang))
        if running is not None and not running.done():
            raise Conflict(
                f"A translation of this task into '{target_lang}' is already running.",
                code="translation_running",
            )
        async with transaction(self._sessions) as session:
            row = await TranslationRepository(session).start(
                task.id, target_lang, source_lang, engine_name
            )
        twin = self._running.get((task.id, target_lang))
        if twin is not None and not twin.done():  # a twin request won the race
            raise Conflict(
                f"A translation of this task into '{target_lang}' is already running.",
                code="translation_running",
            )
        self._launch(_Job(task.id, task.owner_id, target_lang, source_lang, engine_name))
        await self._publish(task.owner_id, row)
        return row

    async def resume(self) -> int:
        """Start again every job a previous process left unfinished; how many."""
        async with self._sessions() as session:
            rows = await TranslationRepository(session).unfinished()
            owners = {}
            for row in rows:
                task = await TaskRepository(session).get(row.task_id, with_history=False)
                if task is not None:
                    owners[row.task_id] = task.owner_id
        for row in rows:
            if row.task_id in owners:
                job = _Job(
                    row.task_id, owners[row.task_id], row.target_lang, row.source_lang, row.engine
                )
                self._launch(job)
        return len(owners)

    async def stop(self) -> None:
        """Cancel running jobs; their rows stay unfinished for `resume`."""
        jobs = list(self._running.values())
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)

    def _launch(self, job: _Job) -> None:
        key = (job.task_id, job.target_lang)
        running = asyncio.create_task(self._run(job), name=f"translate {key}")
        self._running[key] = running
        running.add_done_callback(lambda done: self._forget(key, done))

    def _forget(self, key: tuple[str, str], done: asyncio.Task[None]) -> None:
        if self._running.get(key) is done:
            del self._running[key]

    async def _run(self, job: _Job) -> None:
        try:
            await self._translate(job)
        except asyncio.CancelledError:
            raise
        except DocmillError as exc:
            await self._finish(job, FAILED, error_message=exc.message)
        except Exception:  # a background job has no caller: record it, never leave it hanging
            logger.exception("translation %s → %s failed", job.task_id, job.target_lang)
            await self._finish(
                job, FAILED, error_message="The translation stopped on an internal error."
            )

    async def _translate(self, job: _Job) -> None:
        async with self._sessions() as session:
            task = await TaskRepository(session).get(job.task_id, with_history=False)
        if task is None:
            return  # deleted meanwhile; its row went with it
        document = await self._results.document(task)
        service = self._engines.service(job.engine)
        blocks = sorted(document.blocks, key=lambda b: b.order)
        positions = [i for i, block in enumerate(blocks) if _source_text(block).strip()]
        items = [BatchItem(i, _source_text(blocks[i])) for i in positions]
        await self._update(job, status=PROCESSING, blocks_total=len(items))
        last_report = 0.0

        async def report(done: int, total: int) -> None:
            nonlocal last_report
            if done < total and time.monotonic() - last_report < PROGRESS_EVERY_S:
                return
            last_report = time.monotonic()
            progress = min(99, int(100 * done / total)) if total else 99
            await self._update(job, blocks_done=done, progress=progress)

        results = await service.translate_batch(
            items, job.source_lang, job.target_lang, on_progress=report
        )
        errors: dict[str, str] = {}
        translated = list(blocks)
        for result in results:
            block = blocks[result.index]
            if result.translated_text is None:
                errors[block.id] = result.error or "not translated"
                continue
            if block.type == "table" and not block.text.strip():
                translated[result.index] = block.model_copy(update={"html": result.translated_text})
            else:
                translated[result.index] = block.model_copy(update={"text": result.translated_text})
        payload = {
            "document": document.model_copy(update={"blocks": translated}).model_dump(mode="json"),
            "errors": errors,
        }
        data = json.dumps(payload, ensure_ascii=False).encode()
        await asyncio.to_thread(write_atomic, self._file(job.task_id, job.target_lang), data)
        await self._finish(
            job,
            COMPLETED,
            blocks_done=len(items),
            blocks_failed=len(errors),
            progress=100,
        )

    async def _update(self, job: _Job, **values: Any) -> None:
        async with transaction(self._sessions) as session:
            repository = TranslationRepository(session)
            await repository.update(job.task_id, job.target_lang, **values)
            row = await repository.get(job.task_id, job.target_lang)
        if row is not None:
            await self._publish(job.owner_id, row)

    async def _finish(self, job: _Job, status: str, **values: Any) -> None:
        await self._update(job, status=status, completed_at=utcnow(), **values)

    async def _publish(self, owner_id: int, row: TaskTranslation) -> None:
        await self._events.publish(
            owner_id, {"type": "translation.updated", "translation": translation_view(row)}
        )

    async def view(self, task: Task, target_lang: str) -> dict[str, Any]:
        """The translation's state, with blocks and Markdown once completed.

        Raises NotFound when the task was never translated into `target_lang`.
        """
        check_lang(target_lang, "lang")
        async with self._sessions() as session:
            row = await TranslationRepository(session).get(task.id, target_lang)
        if row is None:
            raise NotFound(
                f"This task has no translation into '{target_lang}'; "
                f"POST /api/tasks/{task.id}/translate to make one.",
                code="translation_not_found",
            )
        view = translation_view(row)
        view.update(blocks=None, discarded_blocks=None, markdown_content=None, errors={})
        if row.status != COMPLETED:
            return view
        try:
            raw = await asyncio.to_thread(self._file(task.id, target_lang).read_bytes)
        except FileNotFoundError as exc:
            raise NotFound(
                "The translated files of this task are missing; translate it again.",
                code="translation_missing",
            ) from exc
        payload = json.loads(raw)
        document = Document.model_validate(payload["document"])
        blocks = self._results.blocks(task, document)
        view.update(
            blocks=blocks["preproc_blocks"],
            discarded_blocks=blocks["discarded_blocks"],
            markdown_content=self._results.markdown(task, document),
            errors=payload.get("errors", {}),
        )
        return view

    async def list(self, task: Task) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            rows = await TranslationRepository(session).list_for_task(task.id)
        return [translation_view(row) for row in rows]
