"""The running parts of one docmill instance, built from Settings and closed together."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from docmill.config import Settings
from docmill.events import EventBus, LocalEventBus
from docmill.metrics import Metrics
from docmill.pipeline.language import LanguageServices
from docmill.pipeline.results import ResultReader
from docmill.pipeline.tasks import JobRunner, TaskService
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
        events: EventBus = LocalEventBus()
        await events.start()
        metrics = metrics or Metrics()
        tasks = TaskService(settings, sessions, blobs, events, metrics)
        results = ResultReader(settings, blobs)
        language = await LanguageServices.start(
            settings, db, sessions, blobs, events, results, metrics=metrics, resume_jobs=run_jobs
        )
        tasks.cache = language.cache
        if settings.monkeyocr_url:
            from docmill.engines.monkeyocr import configure_engine

            configure_engine(settings)
        runner: JobRunner | None = None
        if run_jobs and settings.job_runner == "local":
            from docmill.jobs.local import LocalJobRunner

            runner = LocalJobRunner(tasks)
            tasks.runner = runner
            await runner.start()
        return cls(settings, db, sessions, blobs, events, tasks, results, runner, metrics, language)

    async def close(self) -> None:
        await self.language.close()
        if self.runner is not None:
            await self.runner.stop()
        await self.events.close()
        if self.settings.monkeyocr_url:
            from docmill.engines.monkeyocr import close_shared_clients

            await close_shared_clients()
        await self.db.dispose()
