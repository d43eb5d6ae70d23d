"""Public response models, declared on routes so that `/openapi.json` tells the truth.

The answers MonkeyOCR-WebApp clients read at the top level of the body (auth, machine
translation, `/health`) are whole bodies here, not the envelope's `data`. Extend this
module with the models of other routes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

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
