"""Shared fixtures: the fake LLM/MT upstream, a SQLite cache store, Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from docmill.devtools.fake_llm import FakeUpstream
from docmill.store.cache_table import SqlKeyValueStore, create_cache_table

REDIS_URL = os.environ.get("DOCMILL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def fake_upstream() -> Iterator[FakeUpstream]:
    """A fake OpenAI-compatible + MT server on 127.0.0.1, fresh per test."""
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'cache.db'}")
    await create_cache_table(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def kv_store(sqlite_engine: AsyncEngine) -> SqlKeyValueStore:
    return SqlKeyValueStore(sqlite_engine)


@pytest.fixture
def redis_url() -> str:
    """The test Redis URL; skipped when unreachable, unless CI=true (then it fails)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {REDIS_URL} is required in CI: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL} (set DOCMILL_TEST_REDIS_URL)")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix unique to this test; its keys are deleted afterwards."""
    prefix = f"docmill-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
