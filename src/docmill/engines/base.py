"""The engine protocol: `input file + options -> Document`, with progress per page.

Engines know files, images and models; never HTTP, the database or users.
An engine writes any image files it extracts under `out_dir` (normally `out_dir/images/`)
and returns a Document whose paths are relative to `out_dir`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from docmill.document import Document

# progress(pages_done, total_pages); raises Cancelled when the task was cancelled.
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class ConvertOptions:
    force_ocr: bool = False
    lang: str | None = None
    max_pages: int = 2000
    max_image_pixels: int = 120_000_000
    extra: dict[str, str] = field(default_factory=dict)

    def cache_key(self) -> str:
        """The part of the options that changes a result (for the result cache)."""
        extras = ",".join(f"{k}={v}" for k, v in sorted(self.extra.items()))
        return f"force_ocr={int(self.force_ocr)};lang={self.lang or ''};{extras}"


class EngineError(Exception):
    """The input cannot be converted; the message is for a person."""


class Cancelled(Exception):
    """The task was cancelled while converting."""


def no_progress(done: int, total: int) -> None:
    return None


@runtime_checkable
class Engine(Protocol):
    """A CPU-bound engine (`kind = "cpu"`): runs in a worker process of the pool."""

    name: str
    version: str
    kind: str

    def convert(
        self,
        path: Path,
        out_dir: Path,
        options: ConvertOptions,
        progress: ProgressCallback = no_progress,
    ) -> Document: ...


@runtime_checkable
class AsyncEngine(Protocol):
    """A network-bound engine (`kind = "io"`): runs as an asyncio task in the server."""

    name: str
    version: str
    kind: str

    async def convert(
        self,
        path: Path,
        out_dir: Path,
        options: ConvertOptions,
        progress: ProgressCallback = no_progress,
    ) -> Document: ...
