"""An e-mail's attachments as received files, so each can be submitted as a child task.

Blocking (the message is parsed and the attachments written): run it in a thread. The
caller decides which attachments docmill reads (by submitting them like any upload).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from docmill.engines.base import EngineError
from docmill.engines.markup import read_email
from docmill.pipeline.intake import ReceivedFile


@dataclass
class Extracted:
    files: list[ReceivedFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (filename, why)


def _payload(part: EmailMessage) -> bytes | None:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], EmailMessage):
            return bytes(inner[0].as_bytes())
        return None
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else None


def extract_attachments(path: Path, temp_path: Callable[[str], Path], max_count: int) -> Extracted:
    """The attachments of the e-mail at `path`, each written to a fresh temporary file
    (from `temp_path(suffix)`), at most `max_count`; the rest are listed as skipped."""
    extracted = Extracted()
    try:
        message = read_email(path)
    except EngineError:
        return extracted
    for number, part in enumerate(message.iter_attachments(), start=1):
        name = part.get_filename() or f"attachment-{number}"
        if len(extracted.files) >= max_count:
            extracted.skipped.append((name, f"more than {max_count} attachments"))
            continue
        data = _payload(part)
        if not data:
            extracted.skipped.append((name, "empty"))
            continue
        target = temp_path(".attachment")
        target.write_bytes(data)
        extracted.files.append(
            ReceivedFile(target, len(data), hashlib.sha256(data).hexdigest(), data[:1024], name)
        )
    return extracted
