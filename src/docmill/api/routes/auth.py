"""Accounts: register, log in, renew, password, API keys."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import AliasChoices, BaseModel, EmailStr, Field

from docmill.api.deps import (
    CurrentUser,
    ServicesDep,
    SessionDep,
    api_key_scheme,
    bearer_scheme,
    resolve_user,
)
from docmill.api.envelope import ok
from docmill.api.schemas import (
    AccountUser,
    AuthAnswer,
    IssuedToken,
    Profile,
    ValidatedUser,
    Validation,
)
from docmill.errors import Conflict, Forbidden, NotAuthenticated, NotFound
from docmill.security import (
    decode_token,
    hash_api_key,
    hash_password,
    issue_token,
    new_api_key,
    verify_password,
)
from docmill.services import Services
from docmill.store.db import transaction
from docmill.store.models import ApiKey, User
from docmill.store.tasks import TaskRepository
from docmill.store.users import UserRepository

router = APIRouter(prefix="/api/auth", tags=["auth"])

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]+$"


class RegisterBody(BaseModel):
    username: str = Field(min_length=3, max_length=50, pattern=USERNAME_PATTERN)
    email: EmailStr
    password: str = Field(min_length=8, max_length=128)


class LoginBody(BaseModel):
    email_or_username: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=128)


class PasswordBody(BaseModel):
    # MonkeyOCR-WebApp sends `old_password`; `current_password` is accepted too.
    old_password: str = Field(
        min_length=1,
        max_length=128,
        validation_alias=AliasChoices("old_password", "current_password"),
        description="The current password; `current_password` is accepted as an alias.",
    )
    new_password: str = Field(min_length=8, max_length=128)


class ApiKeyBody(BaseModel):
    name: str = Field(min_length=1, max_length=100)


def user_view(user: User) -> AccountUser:
    return AccountUser(
        id=user.id,
        username=user.username,
        email=user.email,
        is_verified=user.is_verified,
        is_active=user.is_active,
        created_at=user.created_at.isoformat(),
    )


def new_token(services: Services, user: User) -> IssuedToken:
    ttl = timedelta(minutes=services.settings.token_ttl_minutes)
    token, expires_at = issue_token(user.id, services.settings.signing_key, ttl)
    return IssuedToken(
        token=token, expires_at=expires_at.isoformat(), expires_in=int(ttl.total_seconds())
    )


def auth_answer(services: Services, user: User) -> AuthAnswer:
    return AuthAnswer(user=user_view(user), **new_token(services, user).model_dump())


async def create_user(services: Services, username: str, email: str, password: str) -> User:
    """A new active user. Raises Conflict when the name or email is taken."""
    password_hash = await asyncio.to_thread(hash_password, password)
    async with transaction(services.sessions) as session:
        users = UserRepository(session)
        if await users.name_or_email_taken(username, email):
            raise Conflict("That username or email is already registered.", code="user_exists")
        return await users.add(User(username=username, email=email, password_hash=password_hash))


@router.post("/register", status_code=201)
async def register(body: RegisterBody, services: ServicesDep) -> AuthAnswer:
    if services.settings.registration != "open":
        raise Forbidden("Registration is closed on this server.", code="registration_closed")
    user = await create_user(services, body.username, str(body.email).lower(), body.password)
    return auth_answer(services, user)


@router.post("/login")
async def login(body: LoginBody, services: ServicesDep, session: SessionDep) -> AuthAnswer:
    user = await UserRepository(session).find_login(body.email_or_username)
    # Verify against a real hash even for unknown users, so timing does not reveal them.
    stored = user.password_hash if user else _dummy_hash()
    valid = await asyncio.to_thread(verify_password, stored, body.password)
    if user is None or not valid:
        raise NotAuthenticated("Wrong username, email or password.", code="invalid_credentials")
    if not user.is_active:
        raise NotAuthenticated("This account is disabled.", code="account_inactive")
    return auth_answer(services, user)


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(hash_password("not-a-real-password"))
    return _DUMMY[0]


@router.post("/token/renew")
async def renew_token(
    services: ServicesDep,
    user: CurrentUser,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> IssuedToken:
    if bearer is None:
        raise NotAuthenticated("Renewing needs a bearer token.", code="token_required")
    decode_token(bearer.credentials, services.settings.signing_key)  # must not have expired
    return new_token(services, user)


@router.get("/me")
async def me(user: CurrentUser, session: SessionDep) -> Profile:
    counts = await TaskRepository(session).counts_for_owner(user.id)
    return Profile(
        **user_view(user).model_dump(),
        total_tasks=counts["total"],
        completed_tasks=counts["completed"],
        public_tasks=counts["public"],
    )


@router.post("/password", status_code=204)
async def change_password(body: PasswordBody, user: CurrentUser, services: ServicesDep) -> Response:
    if not await asyncio.to_thread(verify_password, user.password_hash, body.old_password):
        raise Forbidden("The current password is wrong.", code="wrong_password")
    new_hash = await asyncio.to_thread(hash_password, body.new_password)
    async with transaction(services.sessions) as session:
        await UserRepository(session).set_password_hash(user.id, new_hash)
    return Response(status_code=204)


@router.get("/validate", response_model_exclude_none=True)
async def validate(
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Validation:
    """Whether the request's credentials are good. Missing, bad or expired ones are
    `{valid: false}` (200), never an error."""
    try:
        user = await resolve_user(services, bearer.credentials if bearer else None, api_key)
    except NotAuthenticated:
        user = None
    if user is None:
        return Validation(valid=False)
    return Validation(
        valid=True, user=ValidatedUser(id=user.id, username=user.username, email=user.email)
    )


@router.post("/api-keys", status_code=201)
async def create_api_key(
    body: ApiKeyBody, user: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    key = new_api_key()
    async with transaction(services.sessions) as session:
        record = await UserRepository(session).add_api_key(
            ApiKey(user_id=user.id, name=body.name, prefix=key[:10], key_hash=hash_api_key(key))
        )
    return ok(_api_key_view(record) | {"key": key}, "Store this key now; it is not shown again.")


@router.get("/api-keys")
async def list_api_keys(user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    keys = await UserRepository(session).list_api_keys(user.id)
    return ok([_api_key_view(key) for key in keys])


@router.delete("/api-keys/{key_id}")
async def revoke_api_key(key_id: int, user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    async with transaction(services.sessions) as session:
        revoked = await UserRepository(session).revoke_api_key(user.id, key_id)
    if not revoked:
        raise NotFound("API key not found.", code="api_key_not_found")
    return ok(None, "API key revoked.")


def _api_key_view(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": key.created_at.isoformat(),
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
    }
