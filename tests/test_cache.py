"""The multi-level cache: L1 memory, L2 Redis, L3 SQLite; fall-through, fill, outage."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from redis import asyncio as aioredis

from docmill.cache import Cache, MemoryLevel, RedisLevel, StoreLevel, make_key
from docmill.store import migrate
from docmill.store.cache_table import SqlKeyValueStore
from docmill.store.db import create_engine


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_l1_evicts_least_recently_used_beyond_its_size() -> None:
    l1 = MemoryLevel(max_entries=2, ttl_s=60)
    await l1.set("a", b"1", None)
    await l1.set("b", b"2", None)
    assert await l1.get("a") == b"1"  # "a" is now the most recent
    await l1.set("c", b"3", None)
    assert len(l1) == 2
    assert await l1.get("b") is None
    assert await l1.get("a") == b"1"
    assert await l1.get("c") == b"3"


async def test_l1_entries_expire_after_their_ttl() -> None:
    clock = Clock()
    l1 = MemoryLevel(max_entries=10, ttl_s=60, clock=clock)
    await l1.set("a", b"1", None)
    await l1.set("b", b"2", 5)
    clock.now += 10
    assert await l1.get("b") is None
    assert await l1.get("a") == b"1"
    clock.now += 60
    assert await l1.get("a") is None
    assert len(l1) == 0


async def test_l1_does_not_keep_values_over_its_item_limit() -> None:
    l1 = MemoryLevel(max_entries=10, ttl_s=60, max_item_bytes=4)
    await l1.set("big", b"12345", None)
    assert await l1.get("big") is None


async def test_sql_store_round_trip_overwrite_delete(kv_store: SqlKeyValueStore) -> None:
    assert await kv_store.get("k") is None
    await kv_store.set("k", b"one", 60)
    assert await kv_store.get("k") == b"one"
    await kv_store.set("k", b"two", None)
    assert await kv_store.get("k") == b"two"
    await kv_store.delete("k")
    assert await kv_store.get("k") is None


async def test_sql_store_hides_and_purges_expired_rows(kv_store: SqlKeyValueStore) -> None:
    await kv_store.set("old", b"x", -1)
    await kv_store.set("new", b"y", 60)
    assert await kv_store.get("old") is None
    assert await kv_store.purge_expired() == 1
    assert await kv_store.get("new") == b"y"


async def test_get_falls_through_to_l3_and_fills_l1(kv_store: SqlKeyValueStore) -> None:
    await kv_store.set("k", b"v", 60)
    l1 = MemoryLevel(10, 60)
    cache = Cache([l1, StoreLevel(kv_store)], default_ttl_s=60)
    assert await cache.get("k") == b"v"
    assert await l1.get("k") == b"v"
    assert await cache.get("k") == b"v"
    stats = cache.stats()
    assert (stats["l1"].hits, stats["l1"].misses) == (1, 1)
    assert (stats["l3"].hits, stats["l3"].misses) == (1, 0)
    assert await cache.get("absent") is None
    assert cache.stats()["l3"].misses == 1


async def test_set_writes_through_and_survives_a_restart(kv_store: SqlKeyValueStore) -> None:
    first = Cache([MemoryLevel(10, 60), StoreLevel(kv_store)], default_ttl_s=60)
    await first.set_json(make_key("t", ["a", 1]), {"answer": 42})
    restarted = Cache([MemoryLevel(10, 60), StoreLevel(kv_store)], default_ttl_s=60)
    assert await restarted.get_json(make_key("t", ["a", 1])) == {"answer": 42}
    assert restarted.stats()["l3"].hits == 1


@pytest.mark.redis
async def test_second_instance_is_served_from_redis(
    kv_store: SqlKeyValueStore, redis_url: str, redis_prefix: str
) -> None:
    def instance() -> Cache:
        l2 = RedisLevel.from_url(redis_url, prefix=redis_prefix)
        return Cache([MemoryLevel(10, 60), l2, StoreLevel(kv_store)], default_ttl_s=60)

    one, two = instance(), instance()
    try:
        await one.set("shared", b"value")
        assert await two.get("shared") == b"value"
        stats = two.stats()
        assert (stats["l1"].misses, stats["l2"].hits, stats["l3"].hits) == (1, 1, 0)
        await two.delete("shared")
        assert await one.levels[1].get("shared") is None
    finally:
        await one.aclose()
        await two.aclose()


@pytest.mark.redis
async def test_l3_hit_fills_redis(
    kv_store: SqlKeyValueStore, redis_url: str, redis_prefix: str
) -> None:
    await kv_store.set("k", b"v", 60)
    l2 = RedisLevel.from_url(redis_url, prefix=redis_prefix)
    cache = Cache([MemoryLevel(10, 60), l2, StoreLevel(kv_store)], default_ttl_s=60)
    try:
        assert await cache.get("k") == b"v"
        assert await l2.get("k") == b"v"
    finally:
        await cache.aclose()


async def test_redis_outage_degrades_to_memory_and_database(
    kv_store: SqlKeyValueStore, caplog: pytest.LogCaptureFixture
) -> None:
    dead = RedisLevel.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.5)
    cache = Cache([MemoryLevel(10, 60), dead, StoreLevel(kv_store)], default_ttl_s=60)
    with caplog.at_level(logging.WARNING, logger="docmill.cache"):
        await cache.set("k", b"v")
        assert await cache.get("k") == b"v"
        restarted = Cache([MemoryLevel(10, 60), dead, StoreLevel(kv_store)], default_ttl_s=60)
        assert await restarted.get("k") == b"v"
        assert await restarted.get("absent") is None
    outage_lines = [r for r in caplog.records if "Redis cache unavailable" in r.message]
    assert len(outage_lines) == 1
    assert dead.errors >= 1
    assert restarted.stats()["l3"].hits == 1
    await cache.aclose()


async def test_redis_is_tried_again_after_the_rest_period() -> None:
    clock = Clock()
    client = aioredis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    level = RedisLevel(client, retry_after_s=5, clock=clock)
    assert await level.get("k") is None
    assert level.errors == 1
    assert await level.get("k") is None  # resting: Redis not even asked
    assert level.errors == 1
    clock.now += 6
    assert await level.get("k") is None
    assert level.errors == 2
    await level.aclose()


async def test_sql_store_on_each_database_after_migration(database_url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, database_url)
    engine = create_engine(database_url, pool_size=2)
    store = SqlKeyValueStore(engine)
    try:
        await store.set("k", b"\x00binary\xff", 60)
        await store.set("k", b"replaced", 60)
        await store.set("gone", b"x", -1)
        assert await store.get("k") == b"replaced"
        assert await store.get("gone") is None
        assert await store.purge_expired() == 1
        await store.delete("k")
        assert await store.get("k") is None
    finally:
        await engine.dispose()
