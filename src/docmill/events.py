"""The event bus: every change of a task is published here and pushed to its owner.

One interface, `EventBus`; the in-process implementation is the default. Subscribers get
a bounded queue; one that falls behind is dropped rather than slowing the publisher.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

logger = logging.getLogger(__name__)

Event = dict[str, Any]
SUBSCRIBER_QUEUE = 256


class SubscriberDropped(Exception):
    """The subscriber fell too far behind and was cut off."""


class Subscription:
    def __init__(self, maxsize: int = SUBSCRIBER_QUEUE) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self.dropped = False

    def offer(self, event: Event) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped = True
            # Make room for the end marker so the reader wakes up and leaves.
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)

    def close(self) -> None:
        """Take no more events (the reader is leaving) and let go of the queued ones."""
        self.dropped = True
        while not self.queue.empty():
            self.queue.get_nowait()

    async def next(self) -> Event:
        """The next event. Raises SubscriberDropped once this subscriber fell behind."""
        event = await self.queue.get()
        if event is None:
            raise SubscriberDropped()
        return event


class EventBus(Protocol):
    @property
    def connected(self) -> bool:
        """Whether events reach the other processes (always true for a local bus)."""
        ...

    async def publish(self, owner_id: int, event: Event) -> None: ...

    def subscribe(self, owner_id: int, maxsize: int = SUBSCRIBER_QUEUE) -> Any:
        """An async context manager yielding a Subscription to the owner's events."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class LocalEventBus:
    """In-process fan-out to the owner's subscribers."""

    def __init__(self) -> None:
        self._subscribers: dict[int, set[Subscription]] = defaultdict(set)

    @property
    def connected(self) -> bool:
        return True

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._subscribers.clear()

    async def publish(self, owner_id: int, event: Event) -> None:
        self.deliver(owner_id, event)

    def deliver(self, owner_id: int, event: Event) -> None:
        """Offer the event to each of the owner's subscribers here; never waits."""
        for subscription in list(self._subscribers.get(owner_id, ())):
            subscription.offer(event)

    @asynccontextmanager
    async def subscribe(
        self, owner_id: int, maxsize: int = SUBSCRIBER_QUEUE
    ) -> AsyncIterator[Subscription]:
        subscription = Subscription(maxsize)
        self._subscribers[owner_id].add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers[owner_id].discard(subscription)
            if not self._subscribers[owner_id]:
                del self._subscribers[owner_id]
