"""Documents for the benchmarks, generated on the fly: born-digital PDFs of known text
(optionally padded to any size, written as a stream of chunks so memory stays small) and
scanned PDFs (the same pages rasterized and wrapped as images)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator

import pypdfium2 as pdfium
from PIL import Image

MB = 1024 * 1024
PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
FONT_SIZE = 12
LEADING = 16
WORDS = [
    "throughput",
    "latency",
    "memory",
    "stream",
    "upload",
    "download",
    "queue",
    "worker",
    "page",
    "block",
    "table",
    "title",
    "paragraph",
    "markdown",
    "engine",
    "result",
    "archive",
    "index",
    "cursor",
    "health",
    "event",
]


def text_lines(seed: int, page: int, count: int = 30) -> list[str]:
    """`count` lines of plain words for one page; different seeds give different text
    (so uploads never hit the result cache)."""
    lines = []
    for line in range(count):
        start = (seed * 7 + page * 3 + line) % len(WORDS)
        words = [WORDS[(start + step * 5) % len(WORDS)] for step in range(9)]
        lines.append(f"{seed}.{page + 1}.{line + 1} " + " ".join(words))
    return lines


def text_pages(pages: int, seed: int) -> list[list[str]]:
    """The lines of a `pages`-page document."""
    return [text_lines(seed, page) for page in range(pages)]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _content(lines: list[str]) -> bytes:
    parts = [f"BT /F1 {FONT_SIZE} Tf {LEADING} TL 56 {PAGE_HEIGHT - 64} Td"]
    parts += [f"({_escape(line)}) Tj T*" for line in lines]
    parts.append("ET")
    return ("\n".join(parts) + "\n").encode("latin-1")


def pdf_chunks(pages: list[list[str]], *, pad_to: int = 0, chunk: int = MB) -> Iterator[bytes]:
    """Yield a born-digital PDF with one page per entry of `pages`, each showing its
    lines in Helvetica. With `pad_to`, the first page's content stream is padded with
    spaces (PDF whitespace) so the whole file is about `pad_to` bytes."""
    if not pages:
        raise ValueError("a PDF needs at least one page")
    count = len(pages)
    # Objects: 1 catalog, 2 page tree, 3 font, then (page, content) per page.
    kids = " ".join(f"{4 + 2 * index} 0 R" for index in range(count))
    offsets: list[int] = []
    position = 0

    def emit(data: bytes) -> bytes:
        nonlocal position
        position += len(data)
        return data

    def start_object() -> None:
        offsets.append(position)

    yield emit(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    fixed = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for number, body in enumerate(fixed, start=1):
        start_object()
        yield emit(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    for index, lines in enumerate(pages):
        page_number = 4 + 2 * index
        start_object()
        yield emit(
            f"{page_number} 0 obj\n<< /Type /Page /Parent 2 0 R "
            f"/MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {page_number + 1} 0 R >>\nendobj\n".encode()
        )
        content = _content(lines)
        padding = max(pad_to - 2048 - position, 0) if index == 0 else 0
        start_object()
        yield emit(
            f"{page_number + 1} 0 obj\n<< /Length {padding + len(content)} >>\nstream\n".encode()
        )
        remaining = padding
        while remaining:
            step = min(chunk, remaining)
            yield emit(b" " * step)
            remaining -= step
        yield emit(content + b"endstream\nendobj\n")
    xref = position
    rows = [f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode()]
    rows += [f"{offset:010d} 00000 n \n".encode() for offset in offsets]
    trailer = f"trailer\n<< /Size {len(offsets) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    yield emit(b"".join(rows) + trailer.encode())


def text_pdf(pages: int, seed: int) -> bytes:
    """A small born-digital PDF of `pages` pages, in memory."""
    return b"".join(pdf_chunks(text_pages(pages, seed)))


def scanned_pdf(pages: int, seed: int, dpi: int = 150) -> bytes:
    """A PDF of `pages` page images (no text layer): a born-digital PDF rasterized at
    `dpi` and wrapped back into a PDF, like a scan."""
    document = pdfium.PdfDocument(text_pdf(pages, seed))
    try:
        images: list[Image.Image] = []
        for index in range(len(document)):
            bitmap = document[index].render(scale=dpi / 72, grayscale=True)
            images.append(bitmap.to_pil().convert("L"))
    finally:
        document.close()
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return buffer.getvalue()


def multipart_chunks(
    parts: Iterator[bytes],
    boundary: str,
    *,
    filename: str,
    fields: dict[str, str] | None = None,
) -> Iterator[bytes]:
    """Wrap file chunks as the `file` field of a multipart/form-data body, after the
    plain `fields`."""
    for name, value in (fields or {}).items():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()
    yield from parts
    yield f"\r\n--{boundary}--\r\n".encode()


async def aiter_chunks(chunks: Iterator[bytes], counter: list[int]) -> AsyncIterator[bytes]:
    """The chunks as an async iterator (what httpx streams from), adding their sizes to
    `counter[0]`."""
    for piece in chunks:
        counter[0] += len(piece)
        yield piece
