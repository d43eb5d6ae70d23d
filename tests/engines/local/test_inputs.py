"""Input handling of the local engine: bad files fail with clear messages, images are
opened upright, multi-page TIFFs count their frames. No OCR runs here."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from docmill.engines.base import Cancelled, ConvertOptions, EngineError
from docmill.engines.local import LocalEngine
from docmill.engines.local.sources import open_source
from tests.support import scans


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG claiming `width` x `height` pixels, with almost no data behind the claim."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    data += chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    path.write_bytes(data)
    return path


def _convert_error(engine: LocalEngine, path: Path, tmp_path: Path, **options) -> str:
    with pytest.raises(EngineError) as caught:
        engine.convert(path, tmp_path / "out", ConvertOptions(**options))
    return str(caught.value)


def test_huge_dimension_image_is_refused(engine: LocalEngine, tmp_path: Path) -> None:
    path = _png_header_only(tmp_path / "huge.png", 100_000, 100_000)
    message = _convert_error(engine, path, tmp_path)
    assert "too large" in message or "at most" in message


def test_image_above_the_pixel_limit_is_refused(engine: LocalEngine, tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 200), "white").save(path)
    message = _convert_error(engine, path, tmp_path, max_image_pixels=10_000)
    assert message == "The image is 300x200 pixels; at most 10000 pixels are accepted."


def test_truncated_image_fails_clearly(engine: LocalEngine, tmp_path: Path) -> None:
    whole = tmp_path / "whole.png"
    Image.effect_noise((400, 400), 60).convert("RGB").save(whole)
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert "corrupt or truncated" in _convert_error(engine, cut, tmp_path)


def test_corrupt_image_fails_clearly(engine: LocalEngine, tmp_path: Path) -> None:
    path = tmp_path / "noise.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    assert _convert_error(engine, path, tmp_path) == "The file is not an image docmill can read."


def test_corrupt_pdf_fails_clearly(engine: LocalEngine, tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n" + b"garbage " * 100)
    assert _convert_error(engine, path, tmp_path).startswith("the PDF cannot be read (damaged")


def test_empty_and_unknown_files_fail_clearly(engine: LocalEngine, tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    assert _convert_error(engine, empty, tmp_path) == "The file is empty."
    text = tmp_path / "notes.txt"
    text.write_text("just some words")
    assert _convert_error(engine, text, tmp_path) == "The file is not an image docmill can read."


def test_too_many_pages_are_refused(engine: LocalEngine, samples, tmp_path: Path) -> None:
    tiff = scans.multipage_tiff([samples["born_digital"]] * 3, tmp_path / "three.tif", dpi=30)
    message = _convert_error(engine, tiff.path, tmp_path, max_pages=2)
    assert message == "The file has 3 pages; at most 2 are accepted."


def test_multipage_tiff_has_one_page_per_frame(samples, tmp_path: Path) -> None:
    tiff = scans.multipage_tiff([samples["born_digital"]] * 3, tmp_path / "three.tif", dpi=30)
    source = open_source(tiff.path, 10_000_000)
    try:
        assert len(source) == 3
        assert source.kind == "image" and source.mime == "image/tiff"
    finally:
        source.close()


def test_exif_orientation_is_applied(samples) -> None:
    source = open_source(samples["exif_jpeg"].path, 10_000_000)
    try:
        width, height = source.page_size(0)
    finally:
        source.close()
    assert height > width  # stored landscape, shown portrait


def test_cancellation_stops_between_pages(
    engine: LocalEngine, fixtures: Path, tmp_path: Path
) -> None:
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if done == 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        engine.convert(fixtures / "study_notes.pdf", tmp_path, ConvertOptions(), progress)
    assert calls == [(0, 31), (1, 31), (2, 31)]


def test_pages_converted_apart_assemble_like_one_run(
    engine: LocalEngine, fixtures: Path, tmp_path: Path
) -> None:
    import pickle

    path = fixtures / "study_notes.pdf"
    options = ConvertOptions()
    together = engine.convert_pages(path, tmp_path / "a", options, range(4))
    # Halves as two pool workers would return them (pickled), in either order.
    halves = [
        engine.convert_pages(path, tmp_path / "b", options, part) for part in ([2, 3], [0, 1])
    ]
    apart = [page for half in halves for page in pickle.loads(pickle.dumps(half))]
    one = engine.assemble(path, options, together)
    two = engine.assemble(path, options, apart)
    assert [b.model_dump() for b in one.blocks] == [b.model_dump() for b in two.blocks]
    assert [p.index for p in two.pages] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("BMP", "image/bmp")],
)
def test_image_formats_open_as_one_page(tmp_path: Path, fmt: str, mime: str) -> None:
    path = tmp_path / f"page.{fmt.lower()}"
    Image.new("RGB", (120, 80), "white").save(path, format=fmt)
    source = open_source(path, 10_000_000)
    try:
        assert (len(source), source.mime, source.page_size(0)) == (1, mime, (120.0, 80.0))
        assert source.render(0, 200, 10_000_000).image.size == (120, 80)
    finally:
        source.close()


def test_password_protected_pdf_fails_clearly(engine: LocalEngine, tmp_path: Path) -> None:
    from tests.support import pdfgen

    path = tmp_path / "locked.pdf"
    path.write_bytes(pdfgen.encrypted_pdf().data)
    assert "password-protected" in _convert_error(engine, path, tmp_path)


@pytest.mark.slow
def test_each_pdf_page_takes_its_own_path(engine: LocalEngine, tmp_path: Path) -> None:
    from tests.support import pdfgen

    path = tmp_path / "mixed.pdf"
    path.write_bytes(pdfgen.mixed_pdf().data)
    document = engine.convert(path, tmp_path / "out", ConvertOptions())
    assert (document.timings["pages_text_layer"], document.timings["pages_ocr"]) == (1.0, 1.0)
    assert "A page with real text on it." in document.markdown


@pytest.mark.slow
def test_a_blank_scan_converts_with_a_warning(engine: LocalEngine, tmp_path: Path) -> None:
    path = tmp_path / "blank.png"
    Image.new("RGB", (300, 400), "white").save(path)
    document = engine.convert(path, tmp_path / "out", ConvertOptions())
    assert document.source.pages == 1 and document.blocks == []
    assert document.warnings == ["page 1: no text was recognized"]
    assert document.markdown == ""


@pytest.mark.slow
def test_pages_spread_over_a_pool_give_the_same_document(
    engine: LocalEngine, samples, tmp_path: Path
) -> None:
    from concurrent.futures import ProcessPoolExecutor

    from docmill.engines.local.fanout import convert_with_pool, init_worker

    tiff = scans.multipage_tiff(
        [samples["born_digital"], samples["two_columns"], samples["table"]],
        tmp_path / "three.tif",
        dpi=120,
    )
    alone = engine.convert(tiff.path, tmp_path / "alone", ConvertOptions())
    calls: list[tuple[int, int]] = []
    with ProcessPoolExecutor(2, initializer=init_worker, initargs=(1,)) as pool:
        spread = convert_with_pool(
            pool,
            tiff.path,
            tmp_path / "spread",
            ConvertOptions(),
            lambda d, n: calls.append((d, n)),
        )
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert spread.markdown == alone.markdown
    assert [b.page for b in spread.blocks] == [b.page for b in alone.blocks]
    assert (tmp_path / "spread" / "images" / "p3_table1.png").is_file()
