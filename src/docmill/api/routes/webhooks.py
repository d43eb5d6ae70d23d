"""Webhooks: the caller's signing secret and default URL, and a task's deliveries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from docmill.api.deps import CurrentUser, OwnedTask, ServicesDep
from docmill.api.envelope import ok
from docmill.api.schemas import (
    Delivery,
    DeliveryAttempt,
    Envelope,
    WebhookDefault,
    WebhookSecret,
    WebhookSettings,
)
from docmill.store.models import UserWebhook
from docmill.store.webhooks import PENDING, DeliveryRecord

router = APIRouter(tags=["webhooks"])


def _settings_view(record: UserWebhook | None) -> WebhookSettings:
    return WebhookSettings(
        has_secret=record is not None,
        secret_created_at=record.secret_created_at if record else None,
        default_url=record.default_url if record else None,
    )


def _delivery_view(record: DeliveryRecord) -> Delivery:
    delivery = record.delivery
    return Delivery(
        id=delivery.id,
        task_id=delivery.task_id,
        event=delivery.event,
        url=delivery.url,
        status=delivery.status,
        next_attempt_at=delivery.next_attempt_at if delivery.status == PENDING else None,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
        attempts=[
            DeliveryAttempt(
                number=attempt.number,
                started_at=attempt.started_at,
                duration_ms=attempt.duration_ms,
                status_code=attempt.status_code,
                error=attempt.error,
            )
            for attempt in record.attempts
        ],
    )


@router.get("/api/webhooks", response_model=Envelope[WebhookSettings])
async def webhook_settings(user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    return ok(_settings_view(await services.webhooks.settings_for(user.id)))


@router.put("/api/webhooks", response_model=Envelope[WebhookSettings])
async def set_webhook_default(
    body: WebhookDefault, user: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    url = body.default_url.strip() if body.default_url else None
    record = await services.webhooks.set_default_url(user.id, url or None)
    return ok(_settings_view(record), "Default callback URL saved.")


@router.post("/api/webhooks/secret", status_code=201, response_model=Envelope[WebhookSecret])
async def rotate_webhook_secret(user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    record = await services.webhooks.rotate_secret(user.id)
    secret = WebhookSecret(secret=record.secret, secret_created_at=record.secret_created_at)
    return ok(secret, "Store this secret now; it is not shown again.")


@router.get("/api/tasks/{task_id}/deliveries", response_model=Envelope[list[Delivery]])
async def task_deliveries(task: OwnedTask, services: ServicesDep) -> dict[str, Any]:
    return ok([_delivery_view(record) for record in await services.webhooks.deliveries(task.id)])
