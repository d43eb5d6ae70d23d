"""Webhook signatures: HMAC-SHA256 over `<timestamp>.<body>` with the user's secret.

Used by the server to sign and by receivers (through `docmill.client`) to verify.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Docmill-Signature"
TIMESTAMP_HEADER = "X-Docmill-Timestamp"
EVENT_HEADER = "X-Docmill-Event"
DELIVERY_HEADER = "X-Docmill-Delivery"
SCHEME = "sha256="


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp` (Unix seconds)."""
    message = str(timestamp).encode() + b"." + body
    return SCHEME + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_webhook(
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """Whether `signature` (the X-Docmill-Signature header) signs `body` with `secret`
    and `timestamp` (the X-Docmill-Timestamp header) is within `tolerance_s` of now."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - stamp) > tolerance_s:
        return False
    return hmac.compare_digest(webhook_signature(secret, stamp, body), signature)
