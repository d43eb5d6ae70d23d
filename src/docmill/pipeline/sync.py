"""Incremental sync: what changed in one owner's tasks since a mark, and their data version.

Times are compared with `>` against the stored `updated_at` / `deleted_at`, which the
application takes from `utcnow()` just before writing. A write may commit a little after
its timestamp, so the mark handed back (`server_timestamp`) lies `settle` seconds before
the moment the sync started: whatever a client has not seen yet has a later timestamp.
Changes near the mark may therefore come twice; applying them is idempotent.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from docmill.config import Settings
from docmill.errors import InvalidInput
from docmill.store.db import transaction
from docmill.store.models import utcnow
from docmill.store.tasks import ListedTask, TaskRepository

logger = logging.getLogger(__name__)

SyncType = Literal["full", "incremental"]

# "…T10:00:00+02:00" sent unencoded in a query string arrives as "…T10:00:00 02:00".
_PLUS_AS_SPACE = re.compile(r"^(.+[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


@dataclass(frozen=True)
class SyncPolicy:
    retention: timedelta  # how long tombstones of deleted tasks are kept
    settle: timedelta  # longest time a write takes from its timestamp to its commit

    @classmethod
    def from_settings(cls, settings: Settings) -> SyncPolicy:
        return cls(
            retention=timedelta(days=settings.sync_tombstone_days),
            settle=timedelta(seconds=settings.sync_settle_s),
        )


@dataclass(frozen=True)
class DataVersion:
    """The version of one owner's tasks. `etag` is None while the latest change is less
    than `settle` old: an older write could still commit without moving the version."""

    etag: str | None
    last_change: datetime | None

    @property
    def data_hash(self) -> str | None:
        """The ETag without its quotes (`/api/sync/status` `data_hash`)."""
        return self.etag.strip('"') if self.etag is not None else None


@dataclass(frozen=True)
class SyncResult:
    tasks: Sequence[ListedTask]  # with their status histories
    deleted_ids: list[str]
    server_timestamp: datetime
    total_count: int
    sync_type: SyncType


def parse_timestamp(value: str) -> datetime:
    """An ISO 8601 time (`Z`, any offset, or naive meaning UTC) as an aware UTC datetime.
    Raises InvalidInput."""
    text = value.strip()
    repaired = _PLUS_AS_SPACE.match(text)
    if repaired:
        text = f"{repaired.group(1)}+{repaired.group(2)}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(
            f"'last_sync' must be an ISO 8601 time, like 2024-05-01T12:00:00Z; got {value!r}.",
            code="invalid_timestamp",
        ) from exc
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def matches_etag(if_none_match: str | None, etag: str | None) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, `*` matches)."""
    if not if_none_match or etag is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


async def data_version(
    session: AsyncSession, owner_id: int, policy: SyncPolicy, now: datetime
) -> DataVersion:
    """The owner's data version as of `now`: it moves with every change and deletion."""
    updated, deleted = await TaskRepository(session).last_change_for_owner(owner_id)
    changes = [moment for moment in (updated, deleted) if moment is not None]
    last_change = max(changes) if changes else None
    if last_change is not None and now - last_change < policy.settle:
        return DataVersion(None, last_change)
    stamp = f"{owner_id}|{updated and updated.isoformat()}|{deleted and deleted.isoformat()}"
    digest = hashlib.sha256(stamp.encode()).hexdigest()[:32]
    return DataVersion(f'"{digest}"', last_change)


async def changes_since(
    session: AsyncSession,
    owner_id: int,
    last_sync: datetime | None,
    policy: SyncPolicy,
    now: datetime,
) -> SyncResult:
    """The owner's tasks changed after `last_sync` and the ids deleted after it; all
    tasks (a full sync) when there is no mark, or it is older than the tombstones kept,
    or later than `now`. Four statements, however many tasks there are."""
    repository = TaskRepository(session)
    server_timestamp = now - policy.settle
    full = last_sync is None or last_sync < now - policy.retention or last_sync > now
    since = None if full else last_sync
    tasks = await repository.changed_since(owner_id, since)
    deleted_ids = [] if since is None else await repository.deleted_since(owner_id, since)
    total = (await repository.counts_for_owner(owner_id))["total"]
    return SyncResult(
        tasks=tasks,
        deleted_ids=deleted_ids,
        server_timestamp=server_timestamp,
        total_count=total,
        sync_type="full" if since is None else "incremental",
    )


async def purge_tombstones_forever(
    sessions: async_sessionmaker[AsyncSession], policy: SyncPolicy, interval_s: float
) -> None:
    """Every `interval_s` seconds, forget deletions older than the retention. Runs until
    cancelled; a failing database is logged and tried again next time."""
    while True:
        try:
            async with transaction(sessions) as session:
                await TaskRepository(session).purge_tombstones(utcnow() - policy.retention)
        except (SQLAlchemyError, OSError) as exc:
            logger.warning("purging old tombstones failed: %s", exc)
        await asyncio.sleep(interval_s)
