"""Webhooks: users' signing secrets and default URLs, and the loop that delivers.

A delivery row is written when a task ends (see `TaskRepository._ended`). Each server
runs one `WebhookDispatcher`: it claims due rows with a lease, POSTs the stored body
signed with the owner's secret, records the attempt, and schedules the next one with
exponential backoff until the retry window closes. Every target is checked against the
same address policy as `upload-url`, at upload and on every connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
import uuid
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from docmill.config import Settings
from docmill.errors import DocmillError, InvalidInput, UnsafeURL, UpstreamFailed
from docmill.pipeline.urlfetch import AddressPolicy, GuardedTransport, check_destination
from docmill.signatures import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    webhook_signature,
)
from docmill.store.db import transaction
from docmill.store.models import UserWebhook, utcnow
from docmill.store.webhooks import AttemptOutcome, DeliveryRecord, DueDelivery, WebhookRepository

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
MAX_URL_LENGTH = 2048


class WebhookService:
    """What a user does with webhooks: secret, default URL, callback checks, history."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.policy = AddressPolicy(settings.webhook_allow_hosts)

    async def settings_for(self, user_id: int) -> UserWebhook | None:
        async with self.sessions() as session:
            return await WebhookRepository(session).settings_for(user_id)

    async def rotate_secret(self, user_id: int) -> UserWebhook:
        """A new signing secret (the old one stops signing at once)."""
        async with transaction(self.sessions) as session:
            return await WebhookRepository(session).set_secret(
                user_id, SECRET_PREFIX + secrets.token_urlsafe(32)
            )

    async def set_default_url(self, user_id: int, url: str | None) -> UserWebhook:
        """Set or clear the URL used when an upload names no callback. Raises
        InvalidInput (no secret yet, bad URL) or UnsafeURL."""
        if url is not None:
            url = await self.check_callback(user_id, url)
        async with transaction(self.sessions) as session:
            record = await WebhookRepository(session).set_default_url(user_id, url)
        if record is None:
            raise _no_secret()
        return record

    async def check_callback(self, user_id: int, url: str) -> str:
        """`url` as it will be called, once it is acceptable: http(s), resolving to allowed
        addresses only, and the user has a signing secret. Raises InvalidInput or UnsafeURL."""
        url = url.strip()
        if len(url) > MAX_URL_LENGTH:
            raise InvalidInput(
                f"The callback URL is longer than {MAX_URL_LENGTH} characters.",
                code="invalid_callback_url",
            )
        try:
            await check_destination(url, self.policy)
        except UpstreamFailed as exc:
            raise InvalidInput(
                f"The callback URL cannot be used: {exc.message}", code="invalid_callback_url"
            ) from exc
        if await self.settings_for(user_id) is None:
            raise _no_secret()
        return url

    async def deliveries(self, task_id: str) -> list[DeliveryRecord]:
        async with self.sessions() as session:
            return await WebhookRepository(session).for_task(task_id)


def _no_secret() -> InvalidInput:
    return InvalidInput(
        "Create a webhook signing secret first (POST /api/webhooks/secret).",
        code="webhook_secret_missing",
    )


def next_attempt_delay(attempts: int, backoff_s: float, backoff_max_s: float) -> float:
    """Seconds to wait after `attempts` failed attempts: doubling from `backoff_s`, capped,
    with up to 10 % jitter so that many deliveries do not retry in step."""
    delay = min(backoff_s * 2.0 ** max(attempts - 1, 0), backoff_max_s)
    return delay * random.uniform(1.0, 1.1)


class WebhookDispatcher:
    """The delivery loop of one server: up to `webhook_concurrency` deliveries in flight."""

    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], policy: AddressPolicy
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.policy = policy
        self.instance_id = f"webhooks-{uuid.uuid4().hex[:12]}"
        # Longer than any attempt can take, so a lease only runs out when its server died.
        self.lease = timedelta(seconds=2 * settings.webhook_timeout_s + 10)
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(self.policy),
            timeout=self.settings.webhook_timeout_s,
            follow_redirects=False,
        )
        self._loop = asyncio.create_task(self._run(), name="docmill-webhooks")

    async def stop(self) -> None:
        """Stop sending; deliveries in flight are left for the next start (or another
        server) to send again."""
        tasks = [*self._in_flight, *([self._loop] if self._loop else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            async with transaction(self.sessions) as session:
                await WebhookRepository(session).release(self.instance_id)
        if self._client is not None:
            await self._client.aclose()

    def notify(self) -> None:
        """A delivery may be due: look now rather than at the next poll."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._claim_while_free()
            except Exception:  # the loop must outlive a passing database error
                logger.exception("webhook deliveries could not be claimed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.webhook_poll_s)

    async def _claim_while_free(self) -> None:
        free = self.settings.webhook_concurrency - len(self._in_flight)
        if free <= 0:
            return
        async with transaction(self.sessions) as session:
            due = await WebhookRepository(session).claim_due(self.instance_id, free, self.lease)
        for delivery in due:
            job = asyncio.create_task(
                self._deliver(delivery), name=f"docmill-webhook-{delivery.id}"
            )
            self._in_flight.add(job)
            job.add_done_callback(self._finished)

    def _finished(self, job: asyncio.Task[None]) -> None:
        self._in_flight.discard(job)
        self.notify()

    async def _deliver(self, delivery: DueDelivery) -> None:
        outcome, retry = await self._send(delivery)
        next_at = None
        if not outcome.ok and retry:
            delay = next_attempt_delay(
                delivery.attempts + 1,
                self.settings.webhook_backoff_s,
                self.settings.webhook_backoff_max_s,
            )
            candidate = utcnow() + timedelta(seconds=delay)
            window_end = delivery.created_at + timedelta(
                seconds=self.settings.webhook_retry_window_s
            )
            next_at = candidate if candidate <= window_end else None
        try:
            async with transaction(self.sessions) as session:
                recorded = await WebhookRepository(session).record_attempt(
                    delivery, self.instance_id, outcome, next_at
                )
        except Exception:
            logger.exception("webhook delivery %s: the attempt could not be recorded", delivery.id)
            return
        if not recorded:
            logger.warning("webhook delivery %s: lease lost during the attempt", delivery.id)
        elif not outcome.ok:
            logger.info(
                "webhook delivery %s attempt %d failed (%s); %s",
                delivery.id,
                delivery.attempts + 1,
                outcome.error,
                f"next at {next_at.isoformat()}" if next_at else "giving up",
            )

    async def _send(self, delivery: DueDelivery) -> tuple[AttemptOutcome, bool]:
        """POST the delivery once, within the overall deadline. The outcome, and whether
        a failure is worth another attempt."""
        assert self._client is not None
        body = delivery.payload.encode()
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "docmill-webhooks",
            EVENT_HEADER: delivery.event,
            DELIVERY_HEADER: delivery.id,
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: webhook_signature(delivery.secret, stamp, body),
        }
        started, clock = utcnow(), time.monotonic()

        def outcome(status_code: int | None, error: str | None) -> AttemptOutcome:
            duration = int((time.monotonic() - clock) * 1000)
            return AttemptOutcome(started, duration, status_code, error)

        timeout_s = self.settings.webhook_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                request = self._client.build_request(
                    "POST", delivery.url, content=body, headers=headers
                )
                response = await self._client.send(request, stream=True)
                await response.aclose()  # the body is not read: only the status counts
        except UnsafeURL as exc:
            return outcome(None, exc.message), False
        except (TimeoutError, httpx.TimeoutException):
            return outcome(None, f"No answer within {timeout_s:g} s."), True
        except httpx.HTTPError as exc:
            return outcome(None, f"{type(exc).__name__}: {exc}"[:500]), True
        except DocmillError as exc:  # the host no longer resolves
            return outcome(None, exc.message), True
        code = response.status_code
        if 200 <= code < 300:
            return outcome(code, None), False
        note = " (redirects are not followed)" if response.is_redirect else ""
        return outcome(code, f"HTTP {code}{note}"), True
