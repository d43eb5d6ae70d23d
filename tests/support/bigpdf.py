"""A valid PDF of any size, written in a stream, with a known line of text."""

from __future__ import annotations

from collections.abc import Iterator

HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


def big_pdf_chunks(size: int, text: str = "Big file", chunk: int = 1024 * 1024) -> Iterator[bytes]:
    """Yield a one-page PDF of about `size` bytes: its content stream is padded with
    spaces (valid PDF whitespace), so pdfium reads it and memory stays small."""
    content_tail = f"\nBT /F1 24 Tf 72 720 Td ({text}) Tj ET\n".encode()
    padding = max(size - 1024, 0)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        None,  # the content stream, written in pieces
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    offsets = []
    position = 0

    def emit(data: bytes) -> bytes:
        nonlocal position
        position += len(data)
        return data

    yield emit(HEADER)
    for number, body in enumerate(objects, start=1):
        offsets.append(position)
        if body is not None:
            yield emit(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
            continue
        length = padding + len(content_tail)
        yield emit(f"{number} 0 obj\n<< /Length {length} >>\nstream\n".encode())
        remaining = padding
        while remaining:
            step = min(chunk, remaining)
            yield emit(b" " * step)
            remaining -= step
        yield emit(content_tail + b"endstream\nendobj\n")
    xref = position
    lines = [f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()]
    lines += [f"{offset:010d} 00000 n \n".encode() for offset in offsets]
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    yield emit(b"".join(lines) + trailer.encode())


def multipart_chunks(
    parts: Iterator[bytes], boundary: str, filename: str = "big.pdf"
) -> Iterator[bytes]:
    """Wrap file chunks as the one `file` field of a multipart/form-data body."""
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()
    yield from parts
    yield f"\r\n--{boundary}--\r\n".encode()
