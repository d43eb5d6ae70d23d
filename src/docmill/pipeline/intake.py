"""Receiving files: streamed to disk in chunks, hashed and counted on the way, typed by
their first bytes, then checked (page count, encryption, image size) off the event loop.
Memory use does not grow with the size of the file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2
import pypdfium2.raw as pdfium_c
from PIL import Image
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from docmill.engines.monkeyocr.unpack import UnpackLimits, UnsafeArchive
from docmill.engines.office import check_package
from docmill.errors import InvalidFile, InvalidInput
from docmill.filesink import FileSink
from docmill.pipeline.filetypes import OOXML, FileKind, identify

MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 32
MULTIPART_OVERHEAD = 64 * 1024


@dataclass
class ReceivedFile:
    path: Path
    size: int
    sha256: str
    head: bytes
    filename: str

    async def discard(self) -> None:
        """Remove the received file (a refused or failed submission keeps nothing)."""
        await asyncio.to_thread(self.path.unlink, True)

    def kind(self) -> FileKind:
        """The file's kind, by content (the filename only hints at Markdown). Blocking:
        Office packages are opened. Raises InvalidFile (empty, encrypted, macro-enabled)
        or UnsupportedFile."""
        return identify(self.path, self.head if self.size else b"", self.filename)


async def receive_stream(
    chunks: AsyncIterator[bytes], path: Path, limit: int, filename: str
) -> ReceivedFile:
    """Write a byte stream to `path`. Nothing is left behind on failure."""
    sink = FileSink(path, limit)
    digest = await sink.write_all(chunks)
    return ReceivedFile(path, sink.size, digest, sink.head, filename)


@dataclass
class MultipartUpload:
    fields: dict[str, str] = field(default_factory=dict)
    file: ReceivedFile | None = None


class _MultipartReader:
    """Callbacks for python-multipart: form fields kept in memory (small), the file
    part fed to a FileSink."""

    def __init__(self, file_field: str, path: Path, limit: int) -> None:
        self.file_field = file_field
        self.path = path
        self.limit = limit
        self.result = MultipartUpload()
        self.sink: FileSink | None = None
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._filename: str | None = None
        self._value = bytearray()
        self._file_seen = False
        self.filename = "upload"

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._header_name = self._header_value = b""
        self._value = bytearray()
        self._filename = None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        self._filename = filename.decode("utf-8", "replace") if filename is not None else None
        if self._name == self.file_field and self._filename is not None:
            if self._file_seen:
                raise InvalidInput("Send one file per upload.", code="too_many_files")
            self._file_seen = True
            self.filename = self._filename
            self.sink = FileSink(self.path, self.limit)
        elif len(self.result.fields) >= MAX_FIELDS:
            raise InvalidInput("The form has too many fields.")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.sink is not None and self._is_file_part:
            self.sink.feed(data[start:end])
            return
        self._value += data[start:end]
        if len(self._value) > MAX_FIELD_BYTES:
            raise InvalidInput(f"The form field '{self._name}' is too long.")

    @property
    def _is_file_part(self) -> bool:
        return self._name == self.file_field and self._filename is not None

    def _part_end(self) -> None:
        if self._is_file_part:
            return
        self.result.fields[self._name] = self._value.decode("utf-8", "replace")


async def receive_multipart(
    chunks: AsyncIterator[bytes],
    content_type: str,
    path: Path,
    limit: int,
    file_field: str = "file",
) -> MultipartUpload:
    """Parse a multipart body as it arrives: fields in memory, the file part to `path`.
    Raises InvalidInput (not multipart / no file), PayloadTooLarge; leaves nothing on failure."""
    mime, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if mime != b"multipart/form-data" or not boundary:
        raise InvalidInput("Send the file as multipart/form-data.", code="not_multipart")
    reader = _MultipartReader(file_field, path, limit)
    parser = MultipartParser(boundary, reader.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in chunks:
            parser.write(chunk)
            if reader.sink is not None and reader.sink.needs_flush:
                await reader.sink.flush()
        parser.finalize()
        if reader.sink is None:
            raise InvalidInput(f"No file was sent in the '{file_field}' field.", code="no_file")
        digest = await reader.sink.close()
    except MultipartParseError as exc:
        if reader.sink is not None:
            await reader.sink.abort()
        raise InvalidInput("The multipart body is malformed.", code="bad_multipart") from exc
    except BaseException:
        if reader.sink is not None:
            await reader.sink.abort()
        raise
    sink = reader.sink
    reader.result.file = ReceivedFile(path, sink.size, digest, sink.head, reader.filename)
    return reader.result


@dataclass(frozen=True)
class FileCheck:
    pages: int


def check_file(
    path: Path,
    kind: FileKind,
    max_pages: int,
    max_pixels: int,
    package_limits: UnpackLimits | None = None,
) -> FileCheck:
    """Open the file once to count pages and refuse what no engine can read; OOXML
    packages are checked against `package_limits` (zip bombs). Office, HTML, Markdown and
    e-mail pages are counted when converted (0 here).
    Blocking: run it in a thread. Raises InvalidFile with a message for a person."""
    if kind.family == "pdf":
        return FileCheck(_check_pdf(path, max_pages))
    if kind.family == "image":
        return FileCheck(_check_image(path, max_pixels))
    if kind.family == "office" and kind in OOXML and package_limits is not None:
        try:
            check_package(path, package_limits)
        except UnsafeArchive as exc:
            raise InvalidFile(str(exc), code="unsafe_document") from exc
    return FileCheck(0)


def _check_pdf(path: Path, max_pages: int) -> int:
    try:
        pdf = pypdfium2.PdfDocument(path)
    except pypdfium2.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise InvalidFile(
                "The PDF is password-protected; upload an unlocked copy.", code="encrypted_pdf"
            ) from exc
        raise InvalidFile(
            "The PDF is damaged or not a PDF and cannot be opened.", code="corrupt_pdf"
        ) from exc
    try:
        pages = len(pdf)
    finally:
        pdf.close()
    if pages == 0:
        raise InvalidFile("The PDF has no pages.", code="empty_pdf")
    if pages > max_pages:
        raise InvalidFile(
            f"The PDF has {pages} pages; the limit is {max_pages}.", code="too_many_pages"
        )
    return pages


def _check_image(path: Path, max_pixels: int) -> int:
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise InvalidFile(
                    f"The image is {width}×{height} pixels; the limit is {max_pixels:,} pixels.",
                    code="image_too_large",
                )
            frames = getattr(image, "n_frames", 1)
            image.verify()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidFile(
            "The image is damaged or truncated and cannot be read.", code="corrupt_image"
        ) from exc
    return int(frames)
