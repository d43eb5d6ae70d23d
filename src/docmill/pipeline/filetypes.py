"""The file types docmill reads, in one registry, and how a received file is identified.

Identification is by content: magic bytes, then for ZIP packages the OOXML content types
(`[Content_Types].xml` and its main part), for OLE2 files the streams they hold, for text
the markup it starts with. The filename is a hint only where the content is ambiguous
(Markdown is plain text). A kind's `family` says how it is converted:

- `pdf`, `image`: the requested engine reads the file's pages;
- `office`: LibreOffice makes a PDF first (a pre-conversion step), then as `pdf`;
- `markup`, `email`: parsed natively into the Document (the `markup` engine), no OCR.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from xml.etree import ElementTree

from docmill.errors import InvalidFile, UnsupportedFile

Family = Literal["pdf", "image", "office", "markup", "email"]


@dataclass(frozen=True)
class FileKind:
    file_type: str  # stored in tasks.file_type
    mime: str
    ext: str  # the stored original's extension
    family: Family

    @property
    def has_pages(self) -> bool:
        """Whether the kind has pages to render, preview and make searchable."""
        return self.family in ("pdf", "image", "office")


PDF = FileKind("pdf", "application/pdf", "pdf", "pdf")
PNG = FileKind("image", "image/png", "png", "image")
JPEG = FileKind("image", "image/jpeg", "jpg", "image")
TIFF = FileKind("image", "image/tiff", "tiff", "image")
BMP = FileKind("image", "image/bmp", "bmp", "image")
WEBP = FileKind("image", "image/webp", "webp", "image")
_OOXML = "application/vnd.openxmlformats-officedocument"
DOCX = FileKind("docx", f"{_OOXML}.wordprocessingml.document", "docx", "office")
XLSX = FileKind("xlsx", f"{_OOXML}.spreadsheetml.sheet", "xlsx", "office")
PPTX = FileKind("pptx", f"{_OOXML}.presentationml.presentation", "pptx", "office")
DOC = FileKind("doc", "application/msword", "doc", "office")
XLS = FileKind("xls", "application/vnd.ms-excel", "xls", "office")
PPT = FileKind("ppt", "application/vnd.ms-powerpoint", "ppt", "office")
HTML = FileKind("html", "text/html", "html", "markup")
MARKDOWN = FileKind("markdown", "text/markdown", "md", "markup")
EMAIL = FileKind("email", "message/rfc822", "eml", "email")

OOXML = (DOCX, XLSX, PPTX)
KINDS: tuple[FileKind, ...] = (
    PDF, PNG, JPEG, TIFF, BMP, WEBP, DOCX, XLSX, PPTX, DOC, XLS, PPT, HTML, MARKDOWN, EMAIL,
)  # fmt: skip
EXTENSIONS = {kind.mime: kind.ext for kind in KINDS}
BY_MIME = {kind.mime: kind for kind in KINDS}
SUPPORTED = (
    "PDF, PNG, JPEG, WEBP, TIFF, BMP, Word, Excel or PowerPoint (DOCX/XLSX/PPTX, DOC/XLS/PPT), "
    "HTML, Markdown (.md) or e-mail (.eml)"
)

_IMAGE_MAGIC: list[tuple[bytes, FileKind]] = [
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
    (b"BM", BMP),
]
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# OOXML main-part content types (ECMA-376 part 1, and Microsoft's macro-enabled ones).
_MAIN_PARTS: dict[str, FileKind] = {
    f"{_OOXML}.wordprocessingml.document.main+xml": DOCX,
    f"{_OOXML}.wordprocessingml.template.main+xml": DOCX,
    f"{_OOXML}.spreadsheetml.sheet.main+xml": XLSX,
    f"{_OOXML}.spreadsheetml.template.main+xml": XLSX,
    f"{_OOXML}.presentationml.presentation.main+xml": PPTX,
    f"{_OOXML}.presentationml.slideshow.main+xml": PPTX,
    f"{_OOXML}.presentationml.template.main+xml": PPTX,
}
_MACRO_PARTS = re.compile(r"macroEnabled|vbaProject|\.binary\.", re.IGNORECASE)
CONTENT_TYPES_LIMIT = 256 * 1024
_CT_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"

TEXT_SNIFF_BYTES = 64 * 1024
_MARKDOWN_NAMES = (".md", ".markdown")
_HTML_START = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)
_HTML_ANYWHERE = re.compile(rb"<(?:html|head|body|title|p|div|h[1-6]|table)[\s>]", re.I)
_HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]*:[ \t]")
_MAIL_HEADERS = {b"from", b"date", b"subject", b"to", b"message-id", b"mime-version"}


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the head is still text.
        return exc.start >= len(head) - 3
    return True


def _looks_like_email(head: bytes) -> bool:
    """An RFC 5322 header block: `Name: value` lines (with folded continuations) up to a
    blank line, naming From and at least one other message header."""
    names: set[bytes] = set()
    lines = head.split(b"\n")
    for line in lines[:-1]:  # the last line may be cut
        line = line.rstrip(b"\r")
        if not line:
            break
        if line[:1] in (b" ", b"\t") and names:
            continue
        if not _HEADER_LINE.match(line):
            return False
        names.add(line.split(b":", 1)[0].lower())
    return b"from" in names and len(names & _MAIL_HEADERS) >= 2


def _ooxml_kind(path: Path) -> FileKind:
    """The kind of an OOXML package. Raises UnsupportedFile for any other ZIP and
    InvalidFile (`macro_enabled`) for macro-enabled documents."""
    not_office = UnsupportedFile(
        "This ZIP archive is not a Word, Excel or PowerPoint document; "
        f"docmill reads {SUPPORTED} files."
    )
    try:
        with zipfile.ZipFile(path) as package:
            names = {info.filename for info in package.infolist()}
            if "[Content_Types].xml" not in names:
                raise not_office
            info = package.getinfo("[Content_Types].xml")
            if info.file_size > CONTENT_TYPES_LIMIT:
                raise not_office
            raw = package.read(info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError):
        raise not_office from None
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise not_office
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError:
        raise not_office from None
    overrides = {
        element.get("PartName", "").lstrip("/"): element.get("ContentType", "")
        for element in root.iter(f"{_CT_NS}Override")
    }
    defaults = [element.get("ContentType", "") for element in root.iter(f"{_CT_NS}Default")]
    if any(_MACRO_PARTS.search(value) for value in [*overrides.values(), *defaults]) or any(
        name.lower().endswith("vbaproject.bin") for name in names
    ):
        raise InvalidFile(
            "The document is macro-enabled; docmill does not accept documents with macros. "
            "Save it without macros (as .docx, .xlsx or .pptx) and upload it again.",
            code="macro_enabled_document",
        )
    for part, content_type in overrides.items():
        kind = _MAIN_PARTS.get(content_type)
        if kind is not None and part in names:
            return kind
    raise not_office


def _encrypted(message: str) -> InvalidFile:
    return InvalidFile(message, code="encrypted_document")


def _ole_kind(path: Path) -> FileKind:
    """The kind of an OLE2 compound file (old Office formats). Raises UnsupportedFile for
    other OLE2 files, InvalidFile for encrypted or macro-carrying ones."""
    import msoffcrypto
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {"/".join(entry) for entry in ole.listdir(streams=True, storages=True)}
    except (OSError, ValueError) as exc:
        raise InvalidFile(
            "The Office document is damaged and cannot be read.", code="corrupt_document"
        ) from exc
    if "EncryptedPackage" in streams or "EncryptionInfo" in streams:
        raise _encrypted(
            "The Office document is password-protected; remove the password and upload it again."
        )
    tops = {name.split("/", 1)[0] for name in streams}
    if "WordDocument" in tops:
        kind = DOC
    elif "Workbook" in tops or "Book" in tops:
        kind = XLS
    elif "PowerPoint Document" in tops:
        kind = PPT
    else:
        raise UnsupportedFile(
            "This OLE2 file is not a Word, Excel or PowerPoint document; "
            f"docmill reads {SUPPORTED} files."
        )
    if tops & {"Macros", "_VBA_PROJECT_CUR", "VBA"}:
        raise InvalidFile(
            "The document carries macros; docmill does not accept documents with macros.",
            code="macro_enabled_document",
        )
    try:
        with path.open("rb") as handle:
            encrypted = msoffcrypto.OfficeFile(handle).is_encrypted()
    except Exception as exc:  # msoffcrypto raises its own and plain errors for damaged files
        raise InvalidFile(
            "The Office document is damaged and cannot be read.", code="corrupt_document"
        ) from exc
    if encrypted:
        raise _encrypted(
            "The Office document is password-protected; remove the password and upload it again."
        )
    return kind


def identify(path: Path, head: bytes, filename: str) -> FileKind:
    """The kind of the file at `path` (`head` = its first bytes). Blocking: Office files
    are opened. Raises InvalidFile (empty, encrypted, macro-enabled, damaged Office file)
    or UnsupportedFile."""
    if not head:
        raise InvalidFile("The file is empty.", code="empty_file")
    if b"%PDF-" in head[:1024]:
        return PDF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    for magic, kind in _IMAGE_MAGIC:
        if head.startswith(magic):
            return kind
    if head.startswith(ZIP_MAGIC):
        return _ooxml_kind(path)
    if head.startswith(OLE2_MAGIC):
        return _ole_kind(path)
    if _is_text(head):
        # Mail headers (Received: lines first) can run past the first kilobyte.
        with path.open("rb") as handle:
            text = handle.read(TEXT_SNIFF_BYTES).removeprefix(b"\xef\xbb\xbf")
        if _HTML_START.match(text):
            return HTML
        if _looks_like_email(text):
            return EMAIL
        if filename.lower().endswith(_MARKDOWN_NAMES):
            return MARKDOWN
        if filename.lower().endswith((".html", ".htm")) and _HTML_ANYWHERE.search(text):
            return HTML
    raise UnsupportedFile(f"This file is not a {SUPPORTED} file.")


def kind_of(mime: str) -> FileKind:
    """The registered kind of a stored task's mime type (PDF for unknown ones)."""
    return BY_MIME.get(mime, PDF)
