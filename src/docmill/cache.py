"""A multi-level cache with one interface: L1 in process, L2 Redis, L3 the database.

`Cache.get` looks in each level in turn and copies a hit into the levels above it;
`Cache.set` writes through to every level. Values are bytes (JSON helpers on top).
Redis is optional and may go away at any time: an outage is logged once and the
cache carries on with the other levels, it never raises to the caller.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from docmill.config import Settings

log = logging.getLogger(__name__)


class KeyValueStore(Protocol):
    """Persistent bytes-by-key storage (the database) behind level 3."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float | None) -> None: ...

    async def delete(self, key: str) -> None: ...


class CacheLevel(Protocol):
    name: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float | None) -> None: ...

    async def delete(self, key: str) -> None: ...


@dataclass
class LevelStats:
    hits: int = 0
    misses: int = 0
    errors: int = 0


def make_key(namespace: str, payload: Any) -> str:
    """`namespace:sha256(canonical JSON of payload)`: equal payloads, equal keys."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{namespace}:{hashlib.sha256(canonical.encode()).hexdigest()}"


def text_hash(text: str) -> str:
    """SHA-256 hex digest of a text, for keys that must not hold the text itself."""
    return hashlib.sha256(text.encode()).hexdigest()


def translation_key(engine: str, model: str, source_lang: str, target_lang: str, text: str) -> str:
    return make_key("tr", [engine, model, source_lang, target_lang, text_hash(text)])


def completion_key(request: dict[str, Any]) -> str:
    return make_key("llm", request)


def ocr_key(result_key: str) -> str:
    """The key of a conversion result: `result_key` is already a hash of content,
    engine and options (`pipeline.tasks.cache_key`)."""
    return f"ocr:{result_key}"


class MemoryLevel:
    """L1: a bounded LRU with a TTL, in this process only.

    Values bigger than `max_item_bytes` are not kept here (they stay in L2/L3), so the
    bound on entries is also a bound on memory.
    """

    name = "l1"

    def __init__(
        self,
        max_entries: int,
        ttl_s: float,
        max_item_bytes: int = 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max_entries = max_entries
        self._ttl_s = ttl_s
        self._max_item_bytes = max_item_bytes
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_s: float | None) -> None:
        if self._max_entries <= 0 or len(value) > self._max_item_bytes:
            return
        ttl = self._ttl_s if ttl_s is None else min(ttl_s, self._ttl_s)
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


class RedisLevel:
    """L2: Redis, shared between processes and machines.

    Any Redis error counts as a miss (or a skipped write). After an error the level
    rests for `retry_after_s` so an outage does not slow every request down; the
    outage and the recovery are logged once each.
    """

    name = "l2"

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "docmill:cache:",
        retry_after_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._down_until: float | None = None
        self.errors = 0

    @classmethod
    def from_url(
        cls, url: str, prefix: str = "docmill:cache:", timeout_s: float = 1.0
    ) -> RedisLevel:
        client = aioredis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        return cls(client, prefix=prefix)

    @property
    def available(self) -> bool:
        return self._down_until is None or self._clock() >= self._down_until

    def _failed(self, exc: Exception) -> None:
        self.errors += 1
        if self._down_until is None:
            log.warning("Redis cache unavailable, using memory and database only: %s", exc)
        self._down_until = self._clock() + self._retry_after_s

    def _succeeded(self) -> None:
        if self._down_until is not None:
            log.info("Redis cache available again")
            self._down_until = None

    async def get(self, key: str) -> bytes | None:
        if not self.available:
            return None
        try:
            value = await self._client.get(self._prefix + key)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return None
        self._succeeded()
        if value is None:
            return None
        return value if isinstance(value, bytes) else str(value).encode()

    async def set(self, key: str, value: bytes, ttl_s: float | None) -> None:
        if not self.available:
            return
        try:
            px = max(1, int(ttl_s * 1000)) if ttl_s is not None else None
            await self._client.set(self._prefix + key, value, px=px)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return
        self._succeeded()

    async def delete(self, key: str) -> None:
        if not self.available:
            return
        try:
            await self._client.delete(self._prefix + key)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return
        self._succeeded()

    async def aclose(self) -> None:
        await self._client.aclose()


class StoreLevel:
    """L3: the database, through a `KeyValueStore`. Survives restarts."""

    name = "l3"

    def __init__(self, store: KeyValueStore) -> None:
        self._store = store

    async def get(self, key: str) -> bytes | None:
        return await self._store.get(key)

    async def set(self, key: str, value: bytes, ttl_s: float | None) -> None:
        await self._store.set(key, value, ttl_s)

    async def delete(self, key: str) -> None:
        await self._store.delete(key)


class Cache:
    """Levels ordered fastest first. `stats` counts hits and misses per level."""

    def __init__(
        self,
        levels: Sequence[CacheLevel],
        default_ttl_s: float | None = None,
        on_lookup: Callable[[str, str], None] | None = None,
    ) -> None:
        """`on_lookup(level, "hit" | "miss")` is called on every level asked (metrics)."""
        self.levels = list(levels)
        self.default_ttl_s = default_ttl_s
        self._stats = {level.name: LevelStats() for level in self.levels}
        self._on_lookup = on_lookup

    async def get(self, key: str) -> bytes | None:
        """The value from the fastest level holding it (copied upwards), or None."""
        for depth, level in enumerate(self.levels):
            value = await level.get(key)
            if self._on_lookup is not None:
                self._on_lookup(level.name, "miss" if value is None else "hit")
            if value is None:
                self._stats[level.name].misses += 1
                continue
            self._stats[level.name].hits += 1
            for upper in self.levels[:depth]:
                await upper.set(key, value, self.default_ttl_s)
            return value
        return None

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        """Write `value` to every level; `ttl_s` defaults to the cache's TTL."""
        ttl = self.default_ttl_s if ttl_s is None else ttl_s
        for level in self.levels:
            await level.set(key, value, ttl)

    async def delete(self, key: str) -> None:
        for level in self.levels:
            await level.delete(key)

    async def get_json(self, key: str) -> Any | None:
        raw = await self.get(key)
        return json.loads(raw) if raw is not None else None

    async def set_json(self, key: str, value: Any, ttl_s: float | None = None) -> None:
        await self.set(key, json.dumps(value, ensure_ascii=False).encode(), ttl_s)

    def stats(self) -> dict[str, LevelStats]:
        """Hit/miss/error counts per level name ("l1", "l2", "l3"), copied."""
        return {
            level.name: LevelStats(
                self._stats[level.name].hits,
                self._stats[level.name].misses,
                getattr(level, "errors", 0),
            )
            for level in self.levels
        }

    async def aclose(self) -> None:
        for level in self.levels:
            if isinstance(level, RedisLevel):
                await level.aclose()


def build_cache(
    settings: Settings,
    store: KeyValueStore | None,
    on_lookup: Callable[[str, str], None] | None = None,
) -> Cache:
    """L1 always; L2 when `redis_url` is set; L3 when a store is given. No I/O here."""
    levels: list[CacheLevel] = [MemoryLevel(settings.cache_l1_size, settings.cache_ttl_s)]
    if settings.redis_url:
        levels.append(RedisLevel.from_url(settings.redis_url, prefix=settings.cache_redis_prefix))
    if store is not None:
        levels.append(StoreLevel(store))
    return Cache(levels, default_ttl_s=settings.cache_ttl_s, on_lookup=on_lookup)
