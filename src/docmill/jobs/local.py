"""The local job runner: a durable dispatcher inside the server process.

The queue is the tasks table (status `pending`). The dispatcher claims the oldest pending
tasks up to `job_concurrency`, runs CPU engines in a process pool and network engines as
asyncio tasks, and records progress and status. A claimed task carries a lease
(`claimed_by`, `heartbeat_at`); tasks whose runner stopped heartbeating go back to
`pending`, at start-up and on every sweep, so an accepted task is never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from docmill.engines import UnknownEngine, engine_spec, init_worker, load_function
from docmill.engines.base import Cancelled, EngineError
from docmill.pipeline.conversion import (
    ConversionJob,
    ConversionSummary,
    convert_async,
    convert_in_worker,
    preconvert,
    write_result,
)
from docmill.pipeline.tasks import TaskService

logger = logging.getLogger(__name__)


@dataclass
class _Running:
    task_id: str
    job: asyncio.Task[None]
    cancel: Any = None  # the worker's stop flag (manager or threading Event), once started
    done_pages: int = 0


class LocalJobRunner:
    def __init__(self, service: TaskService) -> None:
        self.service = service
        self.settings = service.settings
        self.instance_id = f"local-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._running: dict[str, _Running] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._pool: ProcessPoolExecutor | None = None
        self._manager: Any = None
        self._stopping = False
        self._background: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Requeue abandoned tasks, then start dispatching."""
        await self.service.requeue_abandoned(self._lease)
        self._loops = [
            asyncio.create_task(self._dispatch_loop(), name="docmill-dispatch"),
            asyncio.create_task(self._heartbeat_loop(), name="docmill-heartbeat"),
        ]

    async def stop(self) -> None:
        """Stop without finishing: running tasks go back to `pending` for the next start."""
        self._stopping = True
        for loop in self._loops:
            loop.cancel()
        for running in list(self._running.values()):
            running.job.cancel()
        await asyncio.gather(
            *self._loops, *(r.job for r in self._running.values()), return_exceptions=True
        )
        await self.service.requeue_abandoned(self._lease, instance_id=self.instance_id)
        self._shutdown_pool()

    def notify(self) -> None:
        """A task became pending: dispatch now rather than at the next sweep."""
        self._wake.set()

    async def cancel(self, task_id: str) -> None:
        """Stop a running task (its row is already `cancelled`)."""
        running = self._running.get(task_id)
        if running is None:
            return
        if running.cancel is None:
            # Not in a worker (a network engine, or not started): stop it at once.
            running.job.cancel()
        else:
            await asyncio.to_thread(running.cancel.set)

    @property
    def _lease(self) -> timedelta:
        return timedelta(seconds=self.settings.job_lease_s)

    # -- loops -------------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._claim_while_free()
            except Exception:  # the loop must outlive a passing database error
                logger.exception("job runner could not claim tasks; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.job_sweep_s)

    async def _claim_while_free(self) -> None:
        while len(self._running) < self.settings.job_concurrency:
            task_id = await self.service.claim_next(self.instance_id)
            if task_id is None:
                return
            job = asyncio.create_task(self._run(task_id), name=f"docmill-task-{task_id}")
            self._running[task_id] = _Running(task_id, job)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.job_heartbeat_s)
            try:
                await self.service.heartbeat(self.instance_id, list(self._running))
                if await self.service.requeue_abandoned(self._lease):
                    self.notify()
            except Exception:  # the loop must outlive a passing database error
                logger.exception("job runner heartbeat failed")

    # -- one task ----------------------------------------------------------------------

    async def _run(self, task_id: str) -> None:
        work_dir: Path | None = None
        metrics = self.service.metrics
        metrics.jobs_running.inc()
        outcome, engine, started = "failed", "unknown", time.monotonic()
        try:
            job = await self.service.prepare_job(task_id)
            work_dir, engine = job.work_dir, job.engine
            job = await preconvert(job, self.settings.office)
            summary = await self._convert(task_id, job)
            await self.service.complete(task_id, self.instance_id, work_dir, summary)
            work_dir, outcome = None, "completed"
            metrics.pages.labels(engine).inc(summary.pages)
        except Cancelled:
            outcome = "cancelled"
            logger.info("task %s cancelled while running", task_id)
        except (EngineError, UnknownEngine) as exc:
            await self.service.fail(task_id, self.instance_id, _engine_message(exc))
        except BrokenProcessPool:
            self._shutdown_pool()
            await self.service.fail(
                task_id,
                self.instance_id,
                "The conversion process stopped unexpectedly (out of memory?). Retry the task.",
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("task %s failed unexpectedly", task_id)
            await self.service.fail(
                task_id, self.instance_id, "Conversion failed because of an internal error."
            )
        finally:
            metrics.jobs_running.dec()
            metrics.conversions.labels(engine, outcome).observe(time.monotonic() - started)
            self._running.pop(task_id, None)
            if work_dir is not None:
                await asyncio.to_thread(self.service.blobs.discard, work_dir)
            if not self._stopping:
                self.notify()

    async def _convert(self, task_id: str, job: ConversionJob) -> ConversionSummary:
        running = self._running[task_id]

        def on_progress(done: int, total: int) -> None:
            running.done_pages = done
            update = asyncio.get_running_loop().create_task(
                self.service.progress(task_id, self.instance_id, done, total)
            )
            self._background.add(update)  # keep a reference until it is done
            update.add_done_callback(self._background.discard)

        spec = engine_spec(job.engine, job.extra_engines)
        if spec.kind == "io":
            return await convert_async(job, on_progress)
        if spec.paged:
            return await self._convert_paged(running, job, spec.paged, on_progress)
        return await self._convert_in_pool(running, job)

    async def _convert_paged(
        self, running: _Running, job: ConversionJob, paged: str, on_progress: Any
    ) -> ConversionSummary:
        """Pages of one document spread over the whole pool (a thread collects them);
        the artifacts are then written in a worker."""
        pool, _ = await asyncio.to_thread(self._ensure_pool)
        loop = asyncio.get_running_loop()
        cancel = threading.Event()
        running.cancel = cancel

        def report(done: int, total: int) -> None:
            if cancel.is_set():
                raise Cancelled()
            loop.call_soon_threadsafe(on_progress, done, total)

        started = time.monotonic()
        convert = load_function(paged)
        try:
            document = await asyncio.to_thread(
                convert, pool, job.source, job.work_dir, job.options, report
            )
        except asyncio.CancelledError:
            cancel.set()  # pages not started are dropped; the thread ends with them
            raise
        if cancel.is_set():
            raise Cancelled()
        return await loop.run_in_executor(pool, write_result, job, document, started)

    async def _convert_in_pool(self, running: _Running, job: ConversionJob) -> ConversionSummary:
        pool, manager = await asyncio.to_thread(self._ensure_pool)
        progress, cancel = await asyncio.to_thread(lambda: (manager.Queue(), manager.Event()))
        running.cancel = cancel
        future = asyncio.get_running_loop().run_in_executor(
            pool, convert_in_worker, job, progress, cancel
        )
        # A future abandoned at shutdown must not log "exception never retrieved".
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        pump = asyncio.create_task(self._pump_progress(running.task_id, progress))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # Stopping: tell the worker to stop at its next page; the pool is shut down.
            with contextlib.suppress(Exception):
                await asyncio.to_thread(cancel.set)
            raise
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(progress.put, None)
            await asyncio.gather(pump, return_exceptions=True)

    async def _pump_progress(self, task_id: str, queue: Any) -> None:
        while True:
            item = await asyncio.to_thread(queue.get)
            if item is None:
                return
            done, total = item
            await self.service.progress(task_id, self.instance_id, done, total)

    def _ensure_pool(self) -> tuple[ProcessPoolExecutor, Any]:
        context = multiprocessing.get_context("spawn")
        if self._manager is None:
            self._manager = context.Manager()
        if self._pool is None:
            workers = self.settings.engine_workers
            threads = self.settings.local_ocr_threads or max(1, (os.cpu_count() or 1) // workers)
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=init_worker,
                initargs=(threads,),
            )
        return self._pool, self._manager

    def _shutdown_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            # Workers may be inside a long page; they are ended, their tasks requeued.
            processes = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
        manager, self._manager = self._manager, None
        if manager is not None and self._stopping:
            manager.shutdown()


def _engine_message(exc: Exception) -> str:
    if isinstance(exc, UnknownEngine):
        return f"The engine '{exc.args[0]}' is not available on this server."
    return str(exc) or "The document could not be converted."
