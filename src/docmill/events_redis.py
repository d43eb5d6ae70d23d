"""The event bus across processes: Redis pub/sub in front of the in-process bus.

Each process publishes to one channel (`{prefix}:events`, the owner in the payload) and
runs one listener that hands every message from the other processes to its local
subscribers. A publisher never waits for Redis: events go to the local subscribers at
once and into a bounded outbox that one sender task drains. When Redis drops, the
listener and the sender reconnect with exponential backoff; events published meanwhile
wait in the outbox (the oldest are dropped once it is full).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio import Redis

from docmill.events import SUBSCRIBER_QUEUE, Event, LocalEventBus, Subscription

logger = logging.getLogger(__name__)

# What a dropped or unreachable Redis raises; everything else is a bug and surfaces.
REDIS_DOWN = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)


@dataclass(frozen=True)
class Backoff:
    """Waits between reconnection attempts: `first`, doubling, at most `longest` seconds."""

    first: float = 0.1
    longest: float = 5.0

    def after(self, delay: float) -> float:
        """The wait after one that lasted `delay`."""
        return min(delay * 2, self.longest)


class RedisEventBus:
    """EventBus over Redis pub/sub. `start()` waits (up to `connect_timeout` seconds)
    for the listener to subscribe, so events from other processes are not missed after
    it returns; if Redis is not there yet, it keeps trying in the background."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "docmill",
        outbox_size: int = 10_000,
        backoff: Backoff | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.channel = f"{prefix}:events"
        self.instance_id = uuid.uuid4().hex
        self.local = LocalEventBus()
        self.backoff = backoff or Backoff()
        self.connect_timeout = connect_timeout
        self._outbox: asyncio.Queue[str] = asyncio.Queue(outbox_size)
        self._subscribed = asyncio.Event()
        self._redis: Redis | None = None
        self._loops: list[asyncio.Task[None]] = []

    @property
    def connected(self) -> bool:
        """Whether the listener is subscribed right now."""
        return self._subscribed.is_set()

    @property
    def client_name(self) -> str:
        """The name of this bus's Redis connections (see CLIENT LIST)."""
        return f"docmill-events-{self.instance_id[:12]}"

    async def start(self) -> None:
        self._redis = Redis.from_url(
            self.url, client_name=self.client_name, health_check_interval=10
        )
        self._loops = [
            asyncio.create_task(self._listen_loop(), name="docmill-events-listen"),
            asyncio.create_task(self._send_loop(), name="docmill-events-send"),
        ]
        try:
            await asyncio.wait_for(self._subscribed.wait(), self.connect_timeout)
        except TimeoutError:
            logger.warning("Redis at %s is not reachable yet; events stay local", self.url)

    async def close(self) -> None:
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        self._loops = []
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        await self.local.close()

    async def publish(self, owner_id: int, event: Event) -> None:
        """Deliver to this process's subscribers and queue for the others; never waits."""
        self.local.deliver(owner_id, event)
        message = json.dumps({"origin": self.instance_id, "owner_id": owner_id, "event": event})
        while True:
            try:
                self._outbox.put_nowait(message)
                return
            except asyncio.QueueFull:
                self._outbox.get_nowait()
                logger.warning("event outbox full (Redis down?): dropped the oldest event")

    @asynccontextmanager
    async def subscribe(
        self, owner_id: int, maxsize: int = SUBSCRIBER_QUEUE
    ) -> AsyncIterator[Subscription]:
        async with self.local.subscribe(owner_id, maxsize) as subscription:
            yield subscription

    async def _send_loop(self) -> None:
        assert self._redis is not None
        delay = self.backoff.first
        while True:
            message = await self._outbox.get()
            while True:
                try:
                    await self._redis.publish(self.channel, message)
                    delay = self.backoff.first
                    break
                except REDIS_DOWN as exc:
                    logger.warning("publishing to Redis failed, retrying in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = self.backoff.after(delay)

    async def _listen_loop(self) -> None:
        assert self._redis is not None
        delay = self.backoff.first
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                delay = self.backoff.first
                logger.info("listening for events on Redis channel %s", self.channel)
                await self._receive(pubsub)
            except REDIS_DOWN as exc:
                logger.warning("Redis event listener lost its connection: %s", exc)
            finally:
                self._subscribed.clear()
                with contextlib.suppress(*REDIS_DOWN):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(delay)
            delay = self.backoff.after(delay)

    async def _receive(self, pubsub: Any) -> None:
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is None or message.get("type") != "message":
                continue
            self._deliver(message["data"])

    def _deliver(self, raw: bytes | str) -> None:
        try:
            envelope = json.loads(raw)
            origin, owner_id, event = envelope["origin"], envelope["owner_id"], envelope["event"]
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed message on %s", self.channel)
            return
        if origin != self.instance_id:
            self.local.deliver(int(owner_id), event)
