"""The `monkeyocr` engine: a remote MonkeyOCR server parses, docmill normalizes.

The file is streamed to `/parse` (or `/parse/split`), the result ZIP streamed to disk,
unpacked with limits and its `*_middle.json` turned into a Document. Network-bound
(`kind = "io"`): it runs as an asyncio task; unpacking and normalizing run in threads.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from docmill.config import Settings
from docmill.document import Document, EngineInfo
from docmill.engines.base import ConvertOptions, EngineError, ProgressCallback, no_progress
from docmill.engines.monkeyocr.client import (
    MonkeyOCRClient,
    MonkeyOCRError,
    check_health,
    close_shared_clients,
    shared_client,
)
from docmill.engines.monkeyocr.normalize import normalize
from docmill.engines.monkeyocr.unpack import UnpackLimits, UnsafeArchive, unpack

__all__ = [
    "MonkeyOCREngine",
    "MonkeyOCRError",
    "UnsafeArchive",
    "check_health",
    "close_shared_clients",
]

WORK_DIR = ".monkeyocr"
# MonkeyOCR judges the type by the name's suffix and takes only these.
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", ".pdf", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", ".png", "image/png"),
    (b"\xff\xd8\xff", ".jpg", "image/jpeg"),
)


def _upload_form(path: Path, work: Path) -> tuple[Path, str, str]:
    """(file to send, name to send it as, content type). Other image types are
    re-encoded as PNG into `work`. Raises EngineError when the file is not readable."""
    with path.open("rb") as file:
        head = file.read(16)
    for magic, suffix, content_type in _SIGNATURES:
        if head.startswith(magic):
            # A fixed stem: the server puts it unescaped into the download URL.
            return path, f"document{suffix}", content_type
    from PIL import Image, UnidentifiedImageError

    target = work / "document.png"
    try:
        with Image.open(path) as image:
            image.convert("RGB").save(target, "PNG")
    except (UnidentifiedImageError, OSError) as exc:
        raise EngineError("MonkeyOCR reads PDF and image files only; this is neither.") from exc
    return target, "document.png", "image/png"


class MonkeyOCREngine:
    """`convert(path, out_dir, options, progress) -> Document` through a MonkeyOCR server."""

    name = "monkeyocr"
    version = "1"
    kind = "io"

    def __init__(
        self, settings: Settings | None = None, client: MonkeyOCRClient | None = None
    ) -> None:
        self._settings = settings
        self._client = client

    def configure(self, settings: Settings) -> None:
        """Use these settings from now on (the server calls this once at start-up)."""
        self._settings = settings

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings()
        return self._settings

    def _limits(self) -> UnpackLimits:
        settings = self.settings
        return UnpackLimits(
            max_total_bytes=settings.monkeyocr_max_unpacked_mb * 1024 * 1024,
            max_entries=settings.monkeyocr_max_entries,
            max_ratio=settings.monkeyocr_max_ratio,
        )

    async def convert(
        self,
        path: Path,
        out_dir: Path,
        options: ConvertOptions,
        progress: ProgressCallback = no_progress,
    ) -> Document:
        """The Document MonkeyOCR makes of `path`; images land in `out_dir/images/`.
        Raises EngineError (MonkeyOCRError, UnsafeArchive, ...) with a message for a
        person, or Cancelled from `progress`."""
        settings = self.settings
        client = self._client or shared_client(settings)
        split = settings.monkeyocr_split
        work = out_dir / WORK_DIR
        timings: dict[str, float] = {}
        progress(0, 1)
        await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
        try:
            started = time.monotonic()
            source, name, content_type = await asyncio.to_thread(_upload_form, path, work)
            answer = await client.parse(source, name, content_type, split=split)
            timings["monkeyocr_parse"] = round(time.monotonic() - started, 3)
            progress(0, 1)

            started = time.monotonic()
            archive = work / "result.zip"
            await client.download(answer.download_url, archive)
            timings["monkeyocr_download"] = round(time.monotonic() - started, 3)
            progress(0, 1)

            started = time.monotonic()
            unpacked = work / "unpacked"
            await asyncio.to_thread(unpack, archive, unpacked, self._limits())
            document = await asyncio.to_thread(normalize, unpacked, out_dir, path.name)
            timings["monkeyocr_normalize"] = round(time.monotonic() - started, 3)
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)
        document.engine = EngineInfo(name=self.name, version=self.version, options={"split": split})
        document.timings.update(timings)
        pages = max(len(document.pages), 1)
        progress(pages, pages)
        return document


def configure_engine(settings: Settings) -> None:
    """Give the process's `monkeyocr` engine instance the server's settings."""
    from docmill.engines import get_engine

    engine = get_engine("monkeyocr")
    if isinstance(engine, MonkeyOCREngine):
        engine.configure(settings)
