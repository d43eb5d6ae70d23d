"""Dependencies named as types: what a route needs, said in its signature.

`OwnedTask` and `ReadableTask` are the only way a route reads a task: another user's
task is a 404, a public one can be read (not changed) by anyone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from docmill.errors import Forbidden, NotAuthenticated, TaskNotFound
from docmill.pipeline.language import LanguageServices
from docmill.security import decode_token, hash_api_key
from docmill.services import Services
from docmill.store.models import Task, User
from docmill.store.tasks import TaskRepository
from docmill.store.users import UserRepository

bearer_scheme = HTTPBearer(auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    async with services.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def resolve_user(services: Services, token: str | None, api_key: str | None) -> User | None:
    """The active user behind a bearer token or API key; None when neither is given.
    Raises NotAuthenticated for a bad, expired or revoked credential."""
    if not token and not api_key:
        return None
    async with services.sessions() as session:
        users = UserRepository(session)
        if api_key:
            user = await users.user_for_api_key(hash_api_key(api_key))
            if user is None:
                raise NotAuthenticated("The API key is not valid.", code="invalid_api_key")
        else:
            claims = decode_token(token or "", services.settings.signing_key)
            user = await users.get(claims.user_id)
    if user is None or not user.is_active:
        raise NotAuthenticated(
            "This account is disabled or no longer exists.", code="account_inactive"
        )
    return user


async def get_optional_user(
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> User | None:
    return await resolve_user(services, bearer.credentials if bearer else None, api_key)


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


async def user_from_request(services: Services, request: Request) -> User | None:
    """The caller of a request handled outside FastAPI's dependency injection."""
    bearer = await bearer_scheme(request)
    api_key = await api_key_scheme(request)
    return await resolve_user(services, bearer.credentials if bearer else None, api_key)


async def get_current_user(user: OptionalUser) -> User:
    if user is None:
        raise NotAuthenticated("Log in or send an API key to use this.")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def _load_task(services: Services, task_id: str) -> Task:
    async with services.sessions() as session:
        task = await TaskRepository(session).get(task_id)
    if task is None:
        raise TaskNotFound(task_id)
    return task


async def get_readable_task(
    services: ServicesDep,
    user: OptionalUser,
    task_id: Annotated[str, Path(max_length=64)],
) -> Task:
    """A task the caller owns, or a public one. Another user's private task is a 404."""
    task = await _load_task(services, task_id)
    if task.is_public or (user is not None and task.owner_id == user.id):
        return task
    raise TaskNotFound(task_id)


async def get_owned_task(
    services: ServicesDep,
    user: CurrentUser,
    task_id: Annotated[str, Path(max_length=64)],
) -> Task:
    """A task the caller owns. Another user's task is a 404 (403 if it is public)."""
    task = await _load_task(services, task_id)
    if task.owner_id == user.id:
        return task
    if task.is_public:
        raise Forbidden("Only the owner can change this task.")
    raise TaskNotFound(task_id)


ReadableTask = Annotated[Task, Depends(get_readable_task)]
OwnedTask = Annotated[Task, Depends(get_owned_task)]


def get_language(services: ServicesDep) -> LanguageServices:
    return services.language


LanguageDep = Annotated[LanguageServices, Depends(get_language)]
