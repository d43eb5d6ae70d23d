"""UserRepository: users and their API keys."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from docmill.store.models import ApiKey, User, utcnow


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def find_login(self, email_or_username: str) -> User | None:
        name = email_or_username.strip().lower()
        query = select(User).where(
            or_(func.lower(User.username) == name, func.lower(User.email) == name)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def name_or_email_taken(self, username: str, email: str) -> bool:
        query = select(User.id).where(
            or_(
                func.lower(User.username) == username.lower(),
                func.lower(User.email) == email.lower(),
            )
        )
        return (await self.session.execute(query.limit(1))).first() is not None

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        await self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(password_hash=password_hash, updated_at=utcnow())
        )

    async def add_api_key(self, key: ApiKey) -> ApiKey:
        self.session.add(key)
        await self.session.flush()
        return key

    async def user_for_api_key(self, key_hash: str) -> User | None:
        query = (
            select(User)
            .join(ApiKey, ApiKey.user_id == User.id)
            .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def list_api_keys(self, user_id: int) -> Sequence[ApiKey]:
        query = (
            select(ApiKey)
            .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
            .order_by(ApiKey.id)
        )
        return (await self.session.execute(query)).scalars().all()

    async def revoke_api_key(self, user_id: int, key_id: int) -> bool:
        result = await self.session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
