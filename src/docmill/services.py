"""The running parts of one docmill instance, built from Settings and closed together."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from docmill.config import Settings
from docmill.events import EventBus, LocalEventBus
from docmill.health import HealthMonitor, probe_dependencies
from docmill.metrics import Metrics
from docmill.pipeline.language import LanguageServices
from docmill.pipeline.results import ResultReader
from docmill.pipeline.sync import SyncPolicy, purge_tombstones_forever
from docmill.pipeline.tasks import JobRunner, TaskService
from docmill.pipeline.webhooks import WebhookDispatcher, WebhookService
from docmill.store import migrate
from docmill.store.blobs import BlobStore
from docmill.store.db import create_engine, create_sessionmaker


@dataclass
class Services:
    settings: Settings
    db: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    blobs: BlobStore
    events: EventBus
    tasks: TaskService
    results: ResultReader
    runner: JobRunner | None
    metrics: Metrics
    language: LanguageServices
    webhooks: WebhookService
    #: Sends webhook deliveries (servers that run jobs; None otherwise).
    dispatcher: WebhookDispatcher | None = None
    background: list[asyncio.Task[None]] = field(default_factory=list)
    #: Reads that build whole listings (a full sync of thousands of tasks) take a slot,
    #: so many at once queue instead of multiplying memory.
    heavy_reads: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    #: The cached dependency report behind `/health`.
    health: HealthMonitor = field(init=False)

    def __post_init__(self) -> None:
        self.health = HealthMonitor(lambda: probe_dependencies(self))

    @classmethod
    async def start(
        cls, settings: Settings, *, run_jobs: bool = True, metrics: Metrics | None = None
    ) -> Services:
        """Prepare folders, upgrade the schema, connect, and start the job runner."""
        await asyncio.to_thread(settings.prepare_dirs)
        await asyncio.to_thread(lambda: settings.signing_key)
        await asyncio.to_thread(migrate.upgrade, settings.resolved_database_url)
        db = create_engine(settings.resolved_database_url)
        sessions = create_sessionmaker(db)
        blobs = BlobStore(settings.blob_dir, settings.tmp_dir)
        events = create_event_bus(settings)
        await events.start()
        metrics = metrics or Metrics()
        tasks = TaskService(settings, sessions, blobs, events, metrics)
        results = ResultReader(settings, blobs)
        language = await LanguageServices.start(
            settings, db, sessions, blobs, events, results, metrics=metrics, resume_jobs=run_jobs
        )
        tasks.cache = language.cache
        webhooks = WebhookService(settings, sessions)
        dispatcher: WebhookDispatcher | None = None
        if run_jobs:
            dispatcher = WebhookDispatcher(settings, sessions, webhooks.policy)
            tasks.dispatcher = dispatcher
            await dispatcher.start()
        if settings.monkeyocr_url:
            from docmill.engines.monkeyocr import configure_engine

            configure_engine(settings)
        runner: JobRunner | None = None
        if run_jobs and settings.job_runner == "local":
            from docmill.jobs.local import LocalJobRunner

            runner = LocalJobRunner(tasks)
            tasks.runner = runner
            await runner.start()
        purging = asyncio.create_task(
            purge_tombstones_forever(
                sessions, SyncPolicy.from_settings(settings), settings.sync_purge_interval_s
            ),
            name="docmill-purge-tombstones",
        )
        return cls(
            settings,
            db,
            sessions,
            blobs,
            events,
            tasks,
            results,
            runner,
            metrics,
            language,
            webhooks,
            dispatcher,
            [purging],
        )

    async def close(self) -> None:
        await self.health.close()
        for job in self.background:
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job
        await self.language.close()
        if self.runner is not None:
            await self.runner.stop()
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        await self.events.close()
        if self.settings.monkeyocr_url:
            from docmill.engines.monkeyocr import close_shared_clients

            await close_shared_clients()
        await self.db.dispose()


def create_event_bus(settings: Settings) -> EventBus:
    """Redis pub/sub across processes when `redis_url` is set, else in-process only."""
    if settings.redis_url:
        from docmill.events_redis import RedisEventBus

        return RedisEventBus(settings.redis_url, prefix=settings.redis_prefix)
    return LocalEventBus()
