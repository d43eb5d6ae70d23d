"""TaskService: what happens to a task, from submission to deletion.

Routes and job runners call this; it talks to the task repository, the blob store and
the event bus, and never to HTTP.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from docmill.cache import Cache, ocr_key
from docmill.config import Settings
from docmill.engines import UnknownEngine, engine_spec
from docmill.engines.base import ConvertOptions
from docmill.errors import Conflict, DocmillError, InvalidInput, PayloadTooLarge, UnsupportedFile
from docmill.events import EventBus
from docmill.metrics import Metrics
from docmill.pipeline.conversion import ConversionJob, ConversionSummary
from docmill.pipeline.filetypes import EXTENSIONS, FileKind, kind_of
from docmill.pipeline.intake import ReceivedFile, check_file
from docmill.presenters import deleted_event, progress_event, updated_event
from docmill.store.blobs import OFFICE_PDF, BlobStore
from docmill.store.db import transaction
from docmill.store.models import Task, utcnow
from docmill.store.tasks import (
    CANCELLED,
    COMPLETED,
    FAILED,
    FINISHED,
    PENDING,
    PROCESSING,
    TaskRepository,
    progress_percent,
)

if TYPE_CHECKING:
    from docmill.pipeline.webhooks import WebhookDispatcher

logger = logging.getLogger(__name__)


class JobRunner(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def notify(self) -> None: ...

    async def cancel(self, task_id: str) -> None: ...


def cache_key(file_hash: str, engine: str, options: ConvertOptions) -> str:
    """Same content + engine + options → same result."""
    return hashlib.sha256(f"{file_hash}|{engine}|{options.cache_key()}".encode()).hexdigest()


def options_from(task: Task) -> ConvertOptions:
    return ConvertOptions(**task.options)


class TaskService:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        blobs: BlobStore,
        events: EventBus,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.sessions = sessions
        self.blobs = blobs
        self.events = events
        self.runner: JobRunner | None = None
        self.cache: Cache | None = None  # results by cache key, shared across restarts
        self.dispatcher: WebhookDispatcher | None = None  # woken when a task ends

    # -- submission ----------------------------------------------------------------

    async def submit(
        self,
        owner_id: int,
        received: ReceivedFile,
        *,
        engine: str,
        options: ConvertOptions,
        is_public: bool,
        parent_id: str | None = None,
        callback_url: str | None = None,
    ) -> Task:
        """Check the file, store it and queue a task, or complete it from the cache; an
        e-mail's attachments become child tasks. `callback_url` must have been checked
        (WebhookService.check_callback). Raises InvalidFile / UnsupportedFile /
        InvalidInput / PayloadTooLarge. The temporary file is consumed either way."""
        try:
            kind = await asyncio.to_thread(received.kind)
            await asyncio.to_thread(self._check_kind_enabled, kind, received.size)
            try:
                engine_spec(engine, tuple(self.settings.extra_engines))
            except UnknownEngine as exc:
                raise InvalidInput(f"Unknown engine '{engine}'.", code="unknown_engine") from exc
            if engine == "monkeyocr" and not self.settings.monkeyocr_url:
                raise InvalidInput(
                    "The engine 'monkeyocr' is not enabled on this server.", code="unknown_engine"
                )
            check = await asyncio.to_thread(
                check_file,
                received.path,
                kind,
                self.settings.max_pages,
                self.settings.max_image_pixels,
                self.settings.office.package_limits,
            )
        except BaseException:
            await received.discard()
            raise
        task = Task(
            id=str(uuid.uuid4()),
            owner_id=owner_id,
            filename=_display_name(received.filename),
            file_type=kind.file_type,
            mime=kind.mime,
            file_hash=received.sha256,
            file_size=received.size,
            engine=engine,
            options=asdict(options),
            cache_key=cache_key(received.sha256, engine, options),
            is_public=is_public,
            total_pages=check.pages,
            status=PENDING,
            parent_id=parent_id,
            callback_url=callback_url,
        )
        await asyncio.to_thread(self.blobs.put_original, task.id, received.path, kind.ext)
        cached = await self._complete_from_cache(task)
        if cached is not None:
            queued = await self.publish_update(task.id) or task
        else:
            async with transaction(self.sessions) as session:
                repository = TaskRepository(session)
                await repository.add(task, "Queued.")
                queued = await repository.get(task.id) or task
            # Publish the pending state as written: a runner may move the task on at once.
            await self.events.publish(owner_id, updated_event(queued))
            if self.runner is not None:
                self.runner.notify()
        if kind.family == "email" and parent_id is None:
            await self._submit_attachments(queued, engine=engine, options=options)
        return queued

    def _check_kind_enabled(self, kind: FileKind, size: int) -> None:
        """Refuse kinds this server cannot convert now or at this size (blocking: looks
        for LibreOffice). Raises UnsupportedFile / PayloadTooLarge."""
        from docmill.engines.office import ENABLE_HINT, soffice_path

        if kind.family == "office" and soffice_path(self.settings.office_soffice) is None:
            raise UnsupportedFile(f"Office input is off on this server. {ENABLE_HINT}")
        limit = self.settings.max_markup_mb * 1024 * 1024
        if kind.family in ("markup", "email") and size > limit:
            raise PayloadTooLarge(
                f"HTML, Markdown and e-mail files are accepted up to "
                f"{self.settings.max_markup_mb} MB; this one is larger."
            )

    async def _submit_attachments(
        self, parent: Task, *, engine: str, options: ConvertOptions
    ) -> list[Task]:
        """The e-mail's attachments that docmill reads, each queued as a child task of
        `parent` for the same owner; the others are noted in the parent's history."""
        from docmill.pipeline.attachments import extract_attachments

        original = self.original_path(parent)
        extracted = await asyncio.to_thread(
            extract_attachments,
            original,
            self.blobs.new_temp_path,
            self.settings.email_max_attachments,
        )
        children: list[Task] = []
        skipped: list[str] = [f"{name}: {reason}" for name, reason in extracted.skipped]
        for received in extracted.files:
            try:
                children.append(
                    await self.submit(
                        parent.owner_id,
                        received,
                        engine=engine,
                        options=options,
                        is_public=parent.is_public,
                        parent_id=parent.id,
                    )
                )
            except DocmillError as exc:
                skipped.append(f"{received.filename}: {exc.message}")
        if children or skipped:
            message = f"{len(children)} attachment(s) queued as tasks of their own."
            if skipped:
                message += " Not converted: " + "; ".join(skipped)[:900]
            async with transaction(self.sessions) as session:
                await TaskRepository(session).note(parent.id, message)
        return children

    async def _cached_source(self, key: str) -> Task | None:
        """The completed task holding the result for `key`: the cache names it (L1/L2/L3),
        else the tasks table is asked; a stale cache entry is dropped."""
        async with self.sessions() as session:
            tasks = TaskRepository(session)
            if self.cache is not None:
                named = await self.cache.get_json(ocr_key(key))
                if isinstance(named, str):
                    source = await tasks.get(named, with_history=False)
                    if source is not None and source.status == COMPLETED:
                        return source
                    await self.cache.delete(ocr_key(key))
            source = await tasks.find_cached(key)
        if source is not None:
            await self._remember_result(key, source.id)
        return source

    async def _remember_result(self, key: str, task_id: str) -> None:
        if self.cache is not None:
            await self.cache.set_json(ocr_key(key), task_id)

    async def _complete_from_cache(self, task: Task) -> Task | None:
        source = await self._cached_source(task.cache_key)
        if source is None:
            return None
        try:
            await asyncio.to_thread(self.blobs.copy_result, source.id, task.id)
        except FileNotFoundError:
            return None  # the source's files were removed under it: convert afresh
        now = utcnow()
        task.status = COMPLETED
        task.from_cache = True
        task.progress = 100
        task.pages_done = source.pages_done
        task.total_pages = source.total_pages
        task.result_meta = dict(source.result_meta)
        task.processing_started_at = task.completed_at = now
        async with transaction(self.sessions) as session:
            await TaskRepository(session).add(task, "Served from the stored result.")
        return task

    def original_path(self, task: Task) -> Path:
        return self.blobs.original_path(task.id, EXTENSIONS.get(task.mime, "bin"))

    def pages_path(self, task: Task) -> Path | None:
        """The file whose pages the task shows: the original PDF or image, the PDF that
        LibreOffice made of an Office document (once converted); None for kinds without
        pages (HTML, Markdown, e-mail)."""
        kind = kind_of(task.mime)
        if not kind.has_pages:
            return None
        if kind.family == "office":
            return self.blobs.result_dir(task.id) / OFFICE_PDF
        return self.original_path(task)

    # -- commands on a task ----------------------------------------------------------

    async def cancel(self, task: Task) -> Task:
        """pending/processing → cancelled. Raises Conflict otherwise."""
        async with transaction(self.sessions) as session:
            changed = await TaskRepository(session).transition(
                task.id, CANCELLED, "Cancelled by the user.", only_from=(PENDING, PROCESSING)
            )
        if not changed:
            raise Conflict(
                f"Only pending or processing tasks can be cancelled; this one is {task.status}.",
                code="task_not_cancellable",
            )
        if self.runner is not None:
            await self.runner.cancel(task.id)
        return await self._published(task.id)

    async def retry(self, task: Task) -> Task:
        """failed/cancelled → pending, with the same stored original. Raises Conflict."""
        if task.status not in (FAILED, CANCELLED):
            raise Conflict(
                f"Only failed or cancelled tasks can be retried; this one is {task.status}.",
                code="task_not_retryable",
            )
        await asyncio.to_thread(self.blobs.clear_result, task.id)
        async with transaction(self.sessions) as session:
            changed = await TaskRepository(session).transition(
                task.id,
                PENDING,
                "Queued again by the user.",
                only_from=(FAILED, CANCELLED),
                progress=0,
                pages_done=0,
                error_message=None,
                claimed_by=None,
                heartbeat_at=None,
                completed_at=None,
                processing_started_at=None,
            )
        if not changed:
            raise Conflict("The task changed meanwhile; reload it.", code="task_changed")
        if self.runner is not None:
            self.runner.notify()
        return await self._published(task.id)

    async def delete(self, task: Task) -> None:
        """Delete the row (leaving a tombstone), its files and its cached result."""
        if task.status in (PENDING, PROCESSING) and self.runner is not None:
            await self.runner.cancel(task.id)
        async with transaction(self.sessions) as session:
            await TaskRepository(session).delete(task)
        if self.cache is not None and await self.cache.get_json(ocr_key(task.cache_key)) == task.id:
            await self.cache.delete(ocr_key(task.cache_key))
        await asyncio.to_thread(self.blobs.remove_task, task.id)
        await self.events.publish(task.owner_id, deleted_event(task.id))

    # -- the job runner's side ---------------------------------------------------------

    async def claim_next(self, instance_id: str) -> str | None:
        async with transaction(self.sessions) as session:
            task_id = await TaskRepository(session).claim_next(instance_id)
        if task_id is not None:
            await self.publish_update(task_id)
        return task_id

    async def heartbeat(self, instance_id: str, task_ids: Sequence[str]) -> None:
        async with transaction(self.sessions) as session:
            await TaskRepository(session).heartbeat(instance_id, task_ids)

    async def requeue_abandoned(self, lease: timedelta, instance_id: str | None = None) -> int:
        async with transaction(self.sessions) as session:
            ids = await TaskRepository(session).requeue_abandoned(lease, instance_id)
        for task_id in ids:
            logger.warning("task %s requeued: its runner stopped", task_id)
            await self.publish_update(task_id)
        return len(ids)

    async def prepare_job(self, task_id: str) -> ConversionJob:
        """The conversion job of a claimed task, with a fresh work folder."""
        async with self.sessions() as session:
            task = await TaskRepository(session).get(task_id, with_history=False)
        if task is None:
            raise LookupError(task_id)
        work_dir = await asyncio.to_thread(self._fresh_work_dir, task_id)
        kind = kind_of(task.mime)
        return ConversionJob(
            task_id=task.id,
            # HTML, Markdown and e-mail are read natively, whatever engine was asked for.
            engine="markup" if kind.family in ("markup", "email") else task.engine,
            family=kind.family,
            source=self.original_path(task).resolve(),
            filename=task.filename,
            sha256=task.file_hash,
            mime=task.mime,
            work_dir=work_dir.resolve(),
            options=options_from(task),
            extra_engines=tuple(self.settings.extra_engines),
        )

    def _fresh_work_dir(self, task_id: str) -> Path:
        self.blobs.clear_result(task_id)
        return self.blobs.work_dir(task_id)

    async def progress(self, task_id: str, instance_id: str, done: int, total: int) -> None:
        async with transaction(self.sessions) as session:
            owner_id = await TaskRepository(session).set_progress(task_id, instance_id, done, total)
        if owner_id is not None:
            percent = progress_percent(done, total)
            await self.events.publish(owner_id, progress_event(task_id, percent, done, total))

    async def complete(
        self, task_id: str, instance_id: str, work_dir: Path, summary: ConversionSummary
    ) -> None:
        await asyncio.to_thread(self.blobs.commit_result, task_id, work_dir)
        async with transaction(self.sessions) as session:
            completed = await TaskRepository(session).transition(
                task_id,
                COMPLETED,
                f"Converted {summary.pages} page(s) in {summary.seconds:.1f} s.",
                only_from=(PROCESSING,),
                held_by=instance_id,
                progress=100,
                pages_done=summary.pages,
                total_pages=summary.pages,
                completed_at=utcnow(),
                claimed_by=None,
                result_meta={
                    "blocks": summary.blocks,
                    "images": summary.images,
                    "engine_seconds": summary.seconds,
                    "warnings": summary.warnings,
                },
            )
        task = await self.publish_update(task_id)
        if completed and task is not None:
            await self._remember_result(task.cache_key, task_id)

    async def fail(self, task_id: str, instance_id: str, message: str) -> None:
        async with transaction(self.sessions) as session:
            await TaskRepository(session).transition(
                task_id,
                FAILED,
                message,
                only_from=(PROCESSING,),
                held_by=instance_id,
                error_message=message,
                claimed_by=None,
                completed_at=utcnow(),
            )
        await self.publish_update(task_id)

    # -- events ------------------------------------------------------------------------

    async def publish_update(self, task_id: str) -> Task | None:
        """Publish the task as it is now to its owner; returns it (None if deleted)."""
        async with self.sessions() as session:
            task = await TaskRepository(session).get(task_id)
        if task is not None:
            await self.events.publish(task.owner_id, updated_event(task))
            if task.status in FINISHED and self.dispatcher is not None:
                self.dispatcher.notify()  # its webhook delivery, if any, is due now
        return task

    async def _published(self, task_id: str) -> Task:
        task = await self.publish_update(task_id)
        if task is None:
            raise Conflict("The task was deleted meanwhile.", code="task_changed")
        return task


def _display_name(filename: str) -> str:
    """The client's name, for display only: no folders, no control characters, bounded."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return (name or "upload")[:255]
