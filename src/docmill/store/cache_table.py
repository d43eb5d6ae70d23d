"""The `cache_entries` table (level 3 of the cache) and its SQLAlchemy key-value store.

The table is on the ORM's metadata (migration 0002 creates it); `create_cache_table`
is for tests that use the cache without the rest of the schema.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, Index, LargeBinary, String, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.dml import Insert

from docmill.store.models import Base, UTCDateTime

cache_entries = Table(
    "cache_entries",
    Base.metadata,
    Column("key", String(255), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_cache_entries_expires_at", "expires_at"),
)


def _now() -> datetime:
    return datetime.now(UTC)


async def create_cache_table(engine: AsyncEngine) -> None:
    """Create `cache_entries` if it does not exist yet."""
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all, tables=[cache_entries])


class SqlKeyValueStore:
    """A `KeyValueStore` on the `cache_entries` table (SQLite or PostgreSQL).

    Expired rows are never returned; `purge_expired` removes them in bulk.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, key: str) -> bytes | None:
        """The stored value, or None when absent or expired."""
        now = _now()
        query = select(cache_entries.c.value).where(
            cache_entries.c.key == key,
            (cache_entries.c.expires_at.is_(None)) | (cache_entries.c.expires_at > now),
        )
        async with self._engine.connect() as conn:
            value = (await conn.execute(query)).scalar_one_or_none()
        return bytes(value) if value is not None else None

    async def set(self, key: str, value: bytes, ttl_s: float | None) -> None:
        """Insert or replace `key`; `ttl_s` None keeps it until deleted."""
        now = _now()
        expires_at = now + timedelta(seconds=ttl_s) if ttl_s is not None else None
        row = {"key": key, "value": value, "expires_at": expires_at, "created_at": now}
        changes = {"value": value, "expires_at": expires_at, "created_at": now}
        dialect = self._engine.dialect.name
        upsert: Insert
        # Both dialects spell the upsert the same way, on different Insert classes.
        if dialect == "postgresql":
            stmt = postgresql.insert(cache_entries).values(**row)
            upsert = stmt.on_conflict_do_update(index_elements=[cache_entries.c.key], set_=changes)
        elif dialect == "sqlite":
            lite = sqlite.insert(cache_entries).values(**row)
            upsert = lite.on_conflict_do_update(index_elements=[cache_entries.c.key], set_=changes)
        else:
            raise NotImplementedError(f"cache_entries upsert is not written for {dialect}")
        async with self._engine.begin() as conn:
            await conn.execute(upsert)

    async def delete(self, key: str) -> None:
        """Remove `key` (no error when absent)."""
        async with self._engine.begin() as conn:
            await conn.execute(delete(cache_entries).where(cache_entries.c.key == key))

    async def purge_expired(self) -> int:
        """Delete expired rows; returns how many went."""
        stmt = delete(cache_entries).where(cache_entries.c.expires_at <= _now())
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
        return int(result.rowcount or 0)
