"""Public response models, declared on routes so that `/openapi.json` tells the truth;
the Python client (`docmill.client`) parses answers with them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from docmill.chunking import Chunk

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    """Every successful answer: `{success, data, message, error}`."""

    success: bool = True
    data: T
    message: str = "OK"
    error: str | None = None


class _Open(BaseModel):
    """A shape the server may grow: unknown fields are kept, not refused."""

    model_config = ConfigDict(extra="allow")


class StatusEvent(_Open):
    status: str
    timestamp: datetime | None = None
    message: str = ""


class ProcessingTask(_Open):
    """A task (`ProcessingTask` of API.md)."""

    id: str
    filename: str
    file_type: str = ""
    status: str
    progress: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    error_message: str | None = None
    result_url: str | None = None
    file_hash: str = ""
    file_size: int = 0
    total_pages: int = 0
    pages_done: int = 0
    engine: str = ""
    from_cache: bool = False
    is_public: bool = False
    status_history: list[StatusEvent] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")


class BlockView(_Open):
    """One block of `/api/tasks/{id}/blocks` (MonkeyOCR-WebApp vocabulary)."""

    index: int
    page_num: int
    bbox: list[float]
    type: str
    content: str = ""
    page_size: list[float] = Field(default_factory=list)
    html_content: str | None = None
    image_path: str | None = None
    caption: str | None = None


class ChunkList(BaseModel):
    task_id: str
    tokenizer: str
    max_tokens: int
    overlap: int
    chunks: list[Chunk]


class WebhookSettings(BaseModel):
    has_secret: bool
    secret_created_at: datetime | None
    default_url: str | None


class WebhookSecret(BaseModel):
    """Shown once, when created or rotated."""

    secret: str
    secret_created_at: datetime


class WebhookDefault(BaseModel):
    default_url: str | None = Field(default=None, max_length=2048)


class DeliveryAttempt(BaseModel):
    number: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None


class Delivery(BaseModel):
    id: str
    task_id: str
    event: str
    url: str
    status: str  # pending, delivered, failed (given up)
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    attempts: list[DeliveryAttempt]
