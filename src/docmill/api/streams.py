"""Pushing one owner's events to a client: over a WebSocket, or as Server-Sent Events.

Both read from a bounded Subscription of the event bus, so a publisher never waits for
a client. A client that falls `ws_queue_size` events behind, or takes longer than
`ws_send_timeout_s` to take one message, is dropped: it resyncs with `/api/sync`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketDisconnect

from docmill.events import Event, EventBus, SubscriberDropped, Subscription

logger = logging.getLogger(__name__)

CLOSE_TRY_AGAIN_LATER = 1013
TOO_SLOW = "Too slow: events were dropped. Resync with /api/sync, then reconnect."
PING: Event = {"type": "ping"}
PONG: Event = {"type": "pong"}


def connection_credentials(connection: HTTPConnection) -> tuple[str | None, str | None]:
    """(bearer token, API key) from the headers, else from `?token=` / `?api_key=`."""
    scheme, _, credentials = connection.headers.get("authorization", "").partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" else ""
    api_key = connection.headers.get("x-api-key", "")
    return (
        token or connection.query_params.get("token") or None,
        api_key or connection.query_params.get("api_key") or None,
    )


@dataclass(frozen=True)
class Closing:
    code: int
    reason: str


class EventSocket:
    """One accepted WebSocket fed from one subscription. `run()` returns when the client
    leaves or is dropped; it sends the server's pings and answers the client's."""

    def __init__(
        self,
        websocket: WebSocket,
        subscription: Subscription,
        *,
        ping_interval_s: float,
        send_timeout_s: float,
        close_timeout_s: float,
    ) -> None:
        self.websocket = websocket
        self.subscription = subscription
        self.ping_interval_s = ping_interval_s
        self.send_timeout_s = send_timeout_s
        self.close_timeout_s = close_timeout_s
        self._sending = asyncio.Lock()

    async def run(self) -> None:
        loops = [
            asyncio.create_task(self._forward_events()),
            asyncio.create_task(self._answer_client()),
            asyncio.create_task(self._ping()),
        ]
        try:
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
        try:
            closing = next(iter(done)).result()
        except WebSocketDisconnect:
            return
        if closing is not None:
            await self._close(closing)

    async def _forward_events(self) -> Closing | None:
        while True:
            try:
                event = await self.subscription.next()
            except SubscriberDropped:
                return Closing(CLOSE_TRY_AGAIN_LATER, TOO_SLOW)
            if not await self._send(event):
                return Closing(CLOSE_TRY_AGAIN_LATER, TOO_SLOW)

    async def _answer_client(self) -> Closing | None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return None
            if _is_ping(message.get("text")) and not await self._send(PONG):
                return Closing(CLOSE_TRY_AGAIN_LATER, TOO_SLOW)

    async def _ping(self) -> Closing | None:
        while True:
            await asyncio.sleep(self.ping_interval_s)
            if not await self._send(PING):
                return Closing(CLOSE_TRY_AGAIN_LATER, TOO_SLOW)

    async def _send(self, event: Event) -> bool:
        """Send one message; False when the client did not take it in time.
        Raises WebSocketDisconnect when the client is gone."""
        try:
            async with self._sending:
                await asyncio.wait_for(self.websocket.send_json(event), self.send_timeout_s)
        except TimeoutError:
            logger.info("dropped a WebSocket client that stopped reading")
            return False
        return True

    async def _close(self, closing: Closing) -> None:
        # The server writes the close frame only once the client's socket takes data again
        # (a client that stopped reading has full buffers): give it that long to resume and
        # learn why it was dropped; one that never reads again just loses the connection.
        self.subscription.close()
        with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError):
            await asyncio.wait_for(
                self.websocket.close(closing.code, closing.reason), self.close_timeout_s
            )


def _is_ping(text: str | None) -> bool:
    if not text:
        return False
    try:
        message = json.loads(text)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "ping"


async def server_sent_events(
    events: EventBus, owner_id: int, *, maxsize: int, ping_interval_s: float
) -> AsyncIterator[str]:
    """The owner's events as an SSE stream: `event: <type>` + `data: <json>`, a `: ping`
    comment when idle, and a final `event: dropped` if the client fell behind."""
    async with events.subscribe(owner_id, maxsize) as subscription:
        yield ": connected\n\n"
        while True:
            try:
                event = await asyncio.wait_for(subscription.next(), ping_interval_s)
            except TimeoutError:
                yield ": ping\n\n"
                continue
            except SubscriberDropped:
                yield f"event: dropped\ndata: {json.dumps({'reason': TOO_SLOW})}\n\n"
                return
            yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
