"""Passwords (argon2), access tokens (JWT), API keys and signed media URLs."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from docmill.errors import NotAuthenticated

_hasher = PasswordHasher()
JWT_ALGORITHM = "HS256"
API_KEY_PREFIX = "dm_"


def hash_password(password: str) -> str:
    """An argon2 hash. CPU-heavy by design: call it from a thread in async code."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches. CPU-heavy by design: call it from a thread."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    expires_at: datetime


def issue_token(user_id: int, key: str, ttl: timedelta) -> tuple[str, datetime]:
    """A signed access token for `user_id` and the moment it expires."""
    now = datetime.now(UTC)
    expires_at = now + ttl
    payload = {"sub": str(user_id), "iat": now, "exp": expires_at, "typ": "access"}
    return jwt.encode(payload, key, algorithm=JWT_ALGORITHM), expires_at


def decode_token(token: str, key: str) -> TokenClaims:
    """The claims of a valid, unexpired token. Raises NotAuthenticated otherwise."""
    try:
        payload = jwt.decode(
            token, key, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated(
            "Your session has expired; log in again.", code="token_expired"
        ) from exc
    except jwt.InvalidTokenError as exc:
        raise NotAuthenticated("The access token is not valid.", code="invalid_token") from exc
    if payload.get("typ") != "access":
        raise NotAuthenticated("The access token is not valid.", code="invalid_token")
    try:
        user_id = int(payload["sub"])
    except ValueError as exc:
        raise NotAuthenticated("The access token is not valid.", code="invalid_token") from exc
    return TokenClaims(user_id=user_id, expires_at=datetime.fromtimestamp(payload["exp"], UTC))


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """API keys are long random strings, so a plain SHA-256 is a safe lookup hash."""
    return hashlib.sha256(key.encode()).hexdigest()


def sign_path(path: str, key: str, ttl_s: int, now: float | None = None) -> tuple[int, str]:
    """(expiry, signature) for a media path, valid for `ttl_s` seconds."""
    expires = int((now if now is not None else time.time()) + ttl_s)
    return expires, _signature(path, expires, key)


def check_signature(path: str, expires: int, signature: str, key: str) -> bool:
    if expires < time.time():
        return False
    return hmac.compare_digest(_signature(path, expires, key), signature)


def _signature(path: str, expires: int, key: str) -> str:
    message = f"{path}\n{expires}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:32]
