"""Writing a byte stream to a file without growing memory or blocking the event loop."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from docmill.errors import PayloadTooLarge

FLUSH_BYTES = 1024 * 1024


class FileSink:
    """Writes a stream to a file in ~1 MB batches from a thread, hashing and counting,
    and stops with PayloadTooLarge as soon as `limit` bytes are passed."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self.size = 0
        self.head = b""
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._file: BinaryIO | None = None  # opened by the first write, in a thread

    def feed(self, data: bytes) -> None:
        """Take bytes (no I/O here); `flush` writes them."""
        self.size += len(data)
        if self.size > self.limit:
            raise PayloadTooLarge.over(self.limit)
        if len(self.head) < 1024:
            self.head += data[: 1024 - len(self.head)]
        self._buffer += data

    @property
    def needs_flush(self) -> bool:
        return len(self._buffer) >= FLUSH_BYTES

    async def flush(self) -> None:
        if self._buffer:
            chunk = bytes(self._buffer)
            self._buffer.clear()
            await asyncio.to_thread(self._write, chunk)

    def _write(self, chunk: bytes) -> None:
        if self._file is None:
            self._file = self.path.open("wb")
        self._hash.update(chunk)
        self._file.write(chunk)

    async def close(self) -> str:
        """Flush, close and return the SHA-256 hex digest."""
        await self.flush()
        await asyncio.to_thread(self._close)
        return self._hash.hexdigest()

    def _close(self) -> None:
        if self._file is None:  # nothing was sent: an empty file
            self._file = self.path.open("wb")
        self._file.close()

    async def write_all(self, chunks: AsyncIterator[bytes]) -> str:
        """Write a whole stream and close; the SHA-256 hex digest. On any failure the
        partial file is removed and the error raised."""
        try:
            async for chunk in chunks:
                self.feed(chunk)
                if self.needs_flush:
                    await self.flush()
            return await self.close()
        except BaseException:
            await self.abort()
            raise

    async def abort(self) -> None:
        await asyncio.to_thread(self._abort)

    def _abort(self) -> None:
        if self._file is not None:
            self._file.close()
        self.path.unlink(missing_ok=True)
