"""WebhookRepository: users' webhook settings, deliveries and their attempts.

Deliveries are rows: `enqueue` writes one in the transaction that ends a task, a
delivery loop claims due rows with a lease (`SKIP LOCKED` on PostgreSQL), sends, and
records the attempt; nothing is kept in memory between attempts.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from docmill.store.models import Task, UserWebhook, WebhookAttempt, WebhookDelivery, utcnow

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"

EVENTS = {"completed": "task.completed", "failed": "task.failed", "cancelled": "task.cancelled"}


@dataclass(frozen=True)
class DueDelivery:
    """A claimed delivery, with what is needed to send it."""

    id: str
    event: str
    url: str
    payload: str
    attempts: int
    created_at: datetime
    secret: str


@dataclass(frozen=True)
class AttemptOutcome:
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class DeliveryRecord:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- settings ----------------------------------------------------------------------

    async def settings_for(self, user_id: int) -> UserWebhook | None:
        return await self.session.get(UserWebhook, user_id)

    async def set_secret(self, user_id: int, secret: str) -> UserWebhook:
        """Create or replace the user's signing secret."""
        now = utcnow()
        record = await self.session.get(UserWebhook, user_id)
        if record is None:
            record = UserWebhook(user_id=user_id, secret=secret, secret_created_at=now)
            self.session.add(record)
        record.secret, record.secret_created_at, record.updated_at = secret, now, now
        await self.session.flush()
        return record

    async def set_default_url(self, user_id: int, url: str | None) -> UserWebhook | None:
        """Set the user's default callback URL; None when the user has no secret yet."""
        record = await self.session.get(UserWebhook, user_id)
        if record is None:
            return None
        record.default_url, record.updated_at = url, utcnow()
        await self.session.flush()
        return record

    # -- deliveries --------------------------------------------------------------------

    async def target_url(self, task_id: str) -> str | None:
        """Where the end of the task is posted: its callback URL, else its owner's default;
        None when there is neither or the owner has no signing secret."""
        row = (
            await self.session.execute(
                select(Task.callback_url, UserWebhook.default_url)
                .join(UserWebhook, UserWebhook.user_id == Task.owner_id)
                .where(Task.id == task_id)
            )
        ).first()
        return (row.callback_url or row.default_url) if row is not None else None

    async def enqueue(self, task: Task, url: str, payload: Mapping[str, object]) -> WebhookDelivery:
        """A pending delivery of `payload` to `url`, due now."""
        now = utcnow()
        delivery = WebhookDelivery(
            id=str(uuid.uuid4()),
            task_id=task.id,
            owner_id=task.owner_id,
            event=str(payload["event"]),
            url=url,
            payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        self.session.add(delivery)
        await self.session.flush()
        return delivery

    async def claim_due(self, instance_id: str, limit: int, lease: timedelta) -> list[DueDelivery]:
        """Up to `limit` due deliveries, leased to `instance_id` so that no other server
        sends the same attempt."""
        now = utcnow()
        rows = WebhookDelivery.__table__.c
        due = (
            select(rows.id)
            .where(
                rows.status == PENDING,
                rows.next_attempt_at <= now,
                or_(rows.lease_until.is_(None), rows.lease_until < now),
            )
            .order_by(rows.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list((await self.session.execute(due)).scalars())
        claimed: list[DueDelivery] = []
        for delivery_id in ids:
            # The condition is repeated: on SQLite (no row locks) it is what makes the
            # claim exclusive.
            result = await self.session.execute(
                update(WebhookDelivery)
                .where(
                    rows.id == delivery_id,
                    rows.status == PENDING,
                    or_(rows.lease_until.is_(None), rows.lease_until < now),
                )
                .values(claimed_by=instance_id, lease_until=now + lease)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                claimed.append(await self._due(delivery_id))
        return claimed

    async def _due(self, delivery_id: str) -> DueDelivery:
        d = WebhookDelivery.__table__.c
        row = (
            await self.session.execute(
                select(
                    d.id, d.event, d.url, d.payload, d.attempts, d.created_at, UserWebhook.secret
                )
                .join(UserWebhook, UserWebhook.user_id == d.owner_id)
                .where(d.id == delivery_id)
            )
        ).one()
        return DueDelivery(*row)

    async def record_attempt(
        self,
        delivery: DueDelivery,
        instance_id: str,
        outcome: AttemptOutcome,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Record one attempt and release the lease: delivered, retried at
        `next_attempt_at`, or given up (None). False when the lease was lost meanwhile."""
        number = delivery.attempts + 1
        if outcome.ok:
            values: dict[str, object] = {"status": DELIVERED, "delivered_at": utcnow()}
        elif next_attempt_at is None:
            values = {"status": FAILED}
        else:
            values = {"next_attempt_at": next_attempt_at}
        result = await self.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery.id,
                WebhookDelivery.claimed_by == instance_id,
                WebhookDelivery.attempts == delivery.attempts,
            )
            .values(attempts=number, claimed_by=None, lease_until=None, **values)
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        self.session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                number=number,
                started_at=outcome.started_at,
                duration_ms=outcome.duration_ms,
                status_code=outcome.status_code,
                error=outcome.error,
            )
        )
        await self.session.flush()
        return True

    async def release(self, instance_id: str) -> None:
        """Give up the leases of `instance_id` (a clean stop): others may send at once."""
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.claimed_by == instance_id)
            .values(claimed_by=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )

    async def for_task(self, task_id: str) -> list[DeliveryRecord]:
        """The task's deliveries, oldest first, each with its attempts. Two statements."""
        deliveries: Sequence[WebhookDelivery] = (
            (
                await self.session.execute(
                    select(WebhookDelivery)
                    .where(WebhookDelivery.task_id == task_id)
                    .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
                )
            )
            .scalars()
            .all()
        )
        if not deliveries:
            return []
        attempts = await self.session.execute(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_([d.id for d in deliveries]))
            .order_by(WebhookAttempt.id)
        )
        by_delivery: dict[str, list[WebhookAttempt]] = defaultdict(list)
        for attempt in attempts.scalars():
            by_delivery[attempt.delivery_id].append(attempt)
        return [DeliveryRecord(d, by_delivery[d.id]) for d in deliveries]
