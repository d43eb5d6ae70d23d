"""Public response models, declared on routes so that `/openapi.json` tells the truth.

The answers MonkeyOCR-WebApp clients read at the top level of the body (auth, machine
translation, `/health`) are whole bodies here, not the envelope's `data`. Extend this
module with the models of other routes. The Python client (`docmill.client`) parses
answers with them too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from docmill.chunking import Chunk

T = TypeVar("T")

# -- Accounts ---------------------------------------------------------------------------


class AccountUser(BaseModel):
    id: int
    username: str
    email: str
    is_verified: bool
    is_active: bool
    created_at: str


class IssuedToken(BaseModel):
    token: str = Field(description="The JWT to send as `Authorization: Bearer <token>`.")
    token_type: Literal["bearer"] = "bearer"
    expires_at: str
    expires_in: int = Field(description="Seconds until the token expires.")


class AuthAnswer(IssuedToken):
    """Register and log in (unwrapped)."""

    user: AccountUser


class Profile(AccountUser):
    """`/api/auth/me` (unwrapped)."""

    total_tasks: int
    completed_tasks: int
    public_tasks: int


class ValidatedUser(BaseModel):
    id: int
    username: str
    email: str


class Validation(BaseModel):
    """`/api/auth/validate` (unwrapped): `user` only when `valid`."""

    valid: bool
    user: ValidatedUser | None = None


# -- Operations -------------------------------------------------------------------------


class HealthAnswer(BaseModel):
    """`/health` (unwrapped): `degraded` names the failing dependencies in `services`."""

    status: Literal["healthy", "degraded"]
    services: dict[str, str] = Field(
        description='Each configured dependency: "ok", "off" or "error: <why>".'
    )
    version: str


# -- Machine translation ----------------------------------------------------------------


class TranslationAnswer(BaseModel):
    """`/api/mt/translate` (unwrapped)."""

    translated_text: str
    source_lang: str
    target_lang: str
    engine: str


class BatchResultOut(BaseModel):
    index: int
    translated_text: str | None
    error: str | None = None


class BatchAnswer(BaseModel):
    """`/api/mt/translate/batch` (unwrapped): one result per item, in request order."""

    results: list[BatchResultOut]
    source_lang: str
    target_lang: str
    count: int
    failed: int
    engine: str
    timestamp: str


class LanguageOut(BaseModel):
    code: str
    name: str
    native_name: str


class LanguagePairOut(BaseModel):
    source: str
    target: str
    description: str


class LanguagesAnswer(BaseModel):
    """`/api/mt/languages` (unwrapped)."""

    languages: list[LanguageOut]
    default_source: str
    default_target: str
    supported_pairs: list[LanguagePairOut]
    engine: str


class TranslationFeatures(BaseModel):
    single_translation: bool
    batch_translation: bool
    max_batch_size: int


class TranslationHealth(BaseModel):
    """`/api/mt/health` (unwrapped). Names no upstream address or key."""

    status: Literal["healthy", "degraded"]
    service_available: bool
    supported_languages: list[str]
    features: TranslationFeatures
    engine: str | None


# -- Envelope, tasks, chunks, webhooks (issue-17) ------------------------------------------


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
