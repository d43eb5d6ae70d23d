"""Shared fixtures: real databases (SQLite files, PostgreSQL), real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
import redis
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from docmill.config import Settings
from docmill.devtools.fake_llm import FakeUpstream
from docmill.store.cache_table import SqlKeyValueStore, create_cache_table
from tests.support.monkeyocr import monkeyocr  # noqa: F401  (fixture)
from tests.support.server import LiveServer, live_server

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get(
    "DOCMILL_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("DOCMILL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SLOW_ENGINE = "slow=tests.support.engines:SlowTextEngine"
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def service_missing(reason: str) -> None:
    """Skip outside CI; in CI a missing service is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required)")
    pytest.skip(reason)


def _raw_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _postgres_database() -> str:
    """A fresh, empty PostgreSQL database; its SQLAlchemy URL."""
    name = f"docmill_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(_raw_dsn(POSTGRES_URL), timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        service_missing(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


async def _drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(_raw_dsn(POSTGRES_URL), timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsFactory:
    """Settings for a test server in its own data folder (SQLite unless told otherwise)."""

    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "job_sweep_s": 0.5,
            "job_heartbeat_s": 0.5,
            "extra_engines": [SLOW_ENGINE],
            "default_engine": "pdf_text",
            "secret_key": "test-secret-key-for-tokens-and-urls-0123456789",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return factory


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each backend in turn: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'docmill.db'}"
        return
    url = await _postgres_database()
    try:
        yield url
    finally:
        await _drop_postgres_database(url)


@pytest_asyncio.fixture
async def server(make_settings: SettingsFactory) -> AsyncIterator[LiveServer]:
    """A docmill server on SQLite with the local job runner."""
    async with live_server(make_settings()) as live:
        yield live


async def register(client: httpx.AsyncClient, username: str | None = None) -> str:
    """Register a new user; their bearer token."""
    username = username or f"user_{uuid.uuid4().hex[:8]}"
    response = await client.post(
        "/api/auth/register",
        json={
            "username": username,
            "email": f"{username}@example.com",
            "password": "correct horse battery",
        },
    )
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert isinstance(token, str)
    return token


async def upload_bytes(
    client: httpx.AsyncClient,
    data: bytes,
    filename: str = "doc.pdf",
    **fields: str,
) -> httpx.Response:
    return await client.post(
        "/api/upload", files={"file": (filename, data, "application/octet-stream")}, data=fields
    )


async def wait_for_status(
    client: httpx.AsyncClient, task_id: str, statuses: tuple[str, ...], timeout: float = 90
) -> dict[str, Any]:
    """Poll the status route until the task reaches one of `statuses`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await client.get(f"/api/tasks/{task_id}/status")
        assert response.status_code == 200, response.text
        task = response.json()["data"]
        if task["status"] in statuses:
            return dict(task)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"task stuck in {task['status']}: {task}")
        await asyncio.sleep(0.1)


# -- LLM, translation and cache fixtures -----------------------------------------------


@pytest.fixture
def fake_upstream() -> Iterator[FakeUpstream]:
    """A fake OpenAI-compatible + MT server on 127.0.0.1, fresh per test."""
    with FakeUpstream() as upstream:
        yield upstream


@pytest_asyncio.fixture
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
        service_missing(f"Redis is not reachable at {REDIS_URL}: {exc}")
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
