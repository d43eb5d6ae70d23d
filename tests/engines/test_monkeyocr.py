"""The monkeyocr engine against a stand-in MonkeyOCR server over real HTTP."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from docmill.config import Settings
from docmill.engines.base import ConvertOptions, EngineError
from docmill.engines.monkeyocr import MonkeyOCREngine, check_health
from docmill.engines.monkeyocr.client import ClientConfig, MonkeyOCRClient
from tests.support.documents import text_pdf, write
from tests.support.monkeyocr import StandIn, produced_entries
from tests.support.server import free_port

PDF = text_pdf([["Page one."], ["Page two."]])


def settings_for(url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "monkeyocr_url": url,
        "monkeyocr_backoff_s": 0.01,
        "monkeyocr_backoff_max_s": 0.05,
        "monkeyocr_timeout_s": 10.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def convert(
    url: str, tmp_path: Path, source: Path | None = None, **overrides: Any
) -> tuple[Any, Path]:
    """Run the engine with its own client; (Document, out_dir)."""
    settings = settings_for(url, tmp_path, **overrides)
    out_dir = tmp_path / "out"
    out_dir.mkdir(exist_ok=True)
    source = source or write(tmp_path / "input.pdf", PDF)
    async with MonkeyOCRClient(ClientConfig.from_settings(settings)) as client:
        engine = MonkeyOCREngine(settings, client)
        document = await engine.convert(source, out_dir, ConvertOptions())
    return document, out_dir


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


# -- success -------------------------------------------------------------------------------


@pytest.mark.parametrize("split", [False, True], ids=["zip_all", "split"])
async def test_document_matches_what_monkeyocr_produced(
    monkeyocr: StandIn, tmp_path: Path, split: bool
) -> None:
    document, out_dir = await convert(monkeyocr.url, tmp_path, monkeyocr_split=split)

    stats = monkeyocr.server.stats
    assert stats.parse_requests == 1
    assert stats.uploads[0]["filename"] == "document.pdf"
    produced = stats.produced[0]
    assert produced.split is split
    assert [page.index for page in document.pages] == [0, 1]
    assert document.pages[0].width == pytest.approx(419, abs=1)  # A5 in points

    titles = [b.text for b in document.blocks if b.type == "title"]
    assert titles == produced.titles
    assert [b.order for b in document.blocks] == list(range(len(document.blocks)))
    assert all(b.bbox != (0, 0, 0, 0) for b in document.blocks)
    page_two = [b for b in document.blocks if b.page == 1]
    assert [b.type for b in page_two] == [
        "header",
        "title",
        "text",
        "figure",
        "figure_caption",
        "table_caption",
        "table",
        "equation",
        "footer",
    ]
    text = next(b for b in page_two if b.type == "text")
    assert text.text == "Page 2 says energy is $E = mc^2$ here. 中文段落"
    equation = next(b for b in page_two if b.type == "equation")
    assert equation.latex == "\\int_0^1 x^2 dx = \\frac{1}{3}"
    table = next(b for b in page_two if b.type == "table")
    assert table.caption == "Table 2: Stand-in values."
    assert table.html is not None and table.html.startswith("<table><tr><th>Name</th>")
    assert table.text.splitlines()[0] == "| Name | Value |"
    assert "| total \\| 2 |  |" in table.text
    figure = next(b for b in page_two if b.type == "figure")
    assert figure.caption == "Figure 2: A stand-in figure."

    # Every image the server made is in out_dir/images/, byte for byte.
    entries = produced_entries(produced.zip_path)
    assert sorted(image.name for image in document.images) == produced.images
    for image in document.images:
        original = next(data for name, data in entries.items() if name.endswith(image.name))
        assert (out_dir / image.path).read_bytes() == original
        assert image.path == f"images/{image.name}"
    assert files_under(out_dir) == {f"images/{name}" for name in produced.images}

    markdown = document.markdown
    assert f"![Figure 2: A stand-in figure.](images/{figure.image})" in markdown
    assert "Stand-in header" not in markdown  # page furniture stays out of the body
    assert "$$\n\\int_0^1 x^2 dx = \\frac{1}{3}\n$$" in markdown


async def test_image_upload_is_sent_as_png(monkeyocr: StandIn, tmp_path: Path) -> None:
    from PIL import Image

    source = tmp_path / "scan.webp"
    Image.new("RGB", (120, 80), "white").save(source, "WEBP")
    document, _ = await convert(monkeyocr.url, tmp_path, source)
    assert monkeyocr.server.stats.uploads[0]["filename"] == "document.png"
    assert [(p.width, p.height) for p in document.pages] == [(120, 80)]


@pytest.mark.parametrize("mode", ["no_middle", "markdown_only"])
async def test_without_middle_json_falls_back(
    monkeyocr: StandIn, tmp_path: Path, mode: str
) -> None:
    monkeyocr.behave(mode=mode)
    document, out_dir = await convert(monkeyocr.url, tmp_path)
    types = {b.type for b in document.blocks}
    assert {"title", "text", "figure", "table", "equation"} <= types
    assert document.warnings
    assert "Section 2: Stand-in results" in document.markdown
    assert "| Name | Value |" in document.markdown
    for image in document.images:
        assert (out_dir / image.path).is_file()


# -- transient failures are retried ------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_transient_errors_are_retried(
    monkeyocr: StandIn, tmp_path: Path, status: int
) -> None:
    monkeyocr.behave(mode="status", status=status, times=2)
    document, _ = await convert(monkeyocr.url, tmp_path, monkeyocr_max_retries=3)
    assert monkeyocr.server.stats.parse_requests == 3
    assert document.blocks


async def test_retries_are_bounded(monkeyocr: StandIn, tmp_path: Path) -> None:
    monkeyocr.behave(mode="status", status=500, times=100)
    with pytest.raises(EngineError, match=r"after 3 attempts: MonkeyOCR answered HTTP 500"):
        await convert(monkeyocr.url, tmp_path, monkeyocr_max_retries=2)
    assert monkeyocr.server.stats.parse_requests == 3


async def test_client_errors_are_not_retried(monkeyocr: StandIn, tmp_path: Path) -> None:
    monkeyocr.behave(mode="status", status=400, times=100)
    with pytest.raises(EngineError, match=r"refused the document \(HTTP 400\)"):
        await convert(monkeyocr.url, tmp_path, monkeyocr_max_retries=3)
    assert monkeyocr.server.stats.parse_requests == 1


async def test_unreachable_server_fails_after_retries(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(EngineError, match=r"after 3 attempts: could not reach MonkeyOCR"):
        await convert(url, tmp_path, monkeyocr_max_retries=2)


async def test_slow_server_times_out(monkeyocr: StandIn, tmp_path: Path) -> None:
    monkeyocr.behave(mode="slow", delay_s=5)
    started = time.monotonic()
    with pytest.raises(EngineError, match=r"did not answer within 0.5 s"):
        await convert(monkeyocr.url, tmp_path, monkeyocr_timeout_s=0.5)
    assert time.monotonic() - started < 3


# -- hostile or broken results -----------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("malformed_zip", r"result ZIP is damaged"),
        ("zip_bomb", r"compressed more than 200:1 \(a zip bomb\?\)"),
        ("zip_slip", r"escapes its folder \('\.\./escaped\.txt'\)"),
        ("absolute_path", r"absolute path \('/tmp/absolute-escape\.txt'\)"),
        ("link", r"link entry \('images/link\.jpg'\)"),
        ("duplicate", r"twice"),
        ("foreign_host", r"download_url on another host \(localhost\); it was not followed"),
    ],
)
async def test_hostile_results_fail_and_write_nothing(
    monkeyocr: StandIn, tmp_path: Path, mode: str, message: str
) -> None:
    monkeyocr.behave(mode=mode)
    source = write(tmp_path / "input.pdf", PDF)
    before = files_under(tmp_path)
    with pytest.raises(EngineError, match=message):
        await convert(monkeyocr.url, tmp_path, source)
    after = files_under(tmp_path)
    # Only the stand-in's own ZIP is new; nothing from the engine anywhere.
    new = {name for name in after - before if not name.startswith("fake-monkeyocr/")}
    assert new == set(), new
    assert not await asyncio.to_thread(Path("/tmp/absolute-escape.txt").exists)
    if mode == "foreign_host":
        assert monkeyocr.server.stats.static_requests == 0


async def test_too_many_entries_fail(monkeyocr: StandIn, tmp_path: Path) -> None:
    monkeyocr.behave(mode="many_entries", entries=600)
    with pytest.raises(EngineError, match=r"entries; at most 500 are allowed"):
        await convert(monkeyocr.url, tmp_path, monkeyocr_max_entries=500)


async def test_total_unpacked_size_is_capped(monkeyocr: StandIn, tmp_path: Path) -> None:
    monkeyocr.behave(mode="zip_bomb", bomb_mb=3)
    with pytest.raises(EngineError, match=r"unpacks to more than 2 MB"):
        await convert(
            monkeyocr.url, tmp_path, monkeyocr_max_unpacked_mb=2, monkeyocr_max_ratio=10_000
        )


async def test_endless_download_is_cut_at_the_cap(monkeyocr: StandIn, tmp_path: Path) -> None:
    monkeyocr.behave(mode="huge_zip")
    with pytest.raises(EngineError, match=r"larger than the 1 MB allowed"):
        await convert(monkeyocr.url, tmp_path, monkeyocr_max_zip_mb=1)
    assert not (tmp_path / "out" / ".monkeyocr").exists()


# -- pooling and concurrency --------------------------------------------------------------


async def test_concurrent_converts_overlap_and_reuse_connections(
    monkeyocr: StandIn, tmp_path: Path
) -> None:
    monkeyocr.behave(delay_s=0.5)
    settings = settings_for(monkeyocr.url, tmp_path)
    source = write(tmp_path / "input.pdf", PDF)
    async with MonkeyOCRClient(ClientConfig.from_settings(settings)) as client:
        engine = MonkeyOCREngine(settings, client)

        async def one(name: str) -> Any:
            out_dir = tmp_path / name
            out_dir.mkdir()
            return await engine.convert(source, out_dir, ConvertOptions())

        started = time.monotonic()
        first, second = await asyncio.gather(one("a"), one("b"))
        elapsed = time.monotonic() - started
        assert first.blocks and second.blocks
        assert monkeyocr.server.stats.max_in_flight == 2
        assert elapsed < 0.95  # two 0.5 s parses side by side, not one after the other

        await engine.convert(source, tmp_path / "c", ConvertOptions())
    stats = monkeyocr.server.stats
    # 3 parses + 3 downloads over at most 2 connections (one per concurrent task).
    assert len(stats.connections) == 6
    assert stats.distinct_connections <= 2


async def test_health(monkeyocr: StandIn, tmp_path: Path) -> None:
    assert await check_health(settings_for(monkeyocr.url, tmp_path))
    assert not await check_health(settings_for(f"http://127.0.0.1:{free_port()}", tmp_path))
    assert not await check_health(Settings(_env_file=None))  # type: ignore[call-arg]


async def test_unconfigured_engine_says_so(tmp_path: Path) -> None:
    engine = MonkeyOCREngine(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    (tmp_path / "out").mkdir()
    with pytest.raises(EngineError, match="DOCMILL_MONKEYOCR_URL"):
        await engine.convert(write(tmp_path / "a.pdf", PDF), tmp_path / "out", ConvertOptions())


async def test_upload_is_streamed_from_disk(monkeyocr: StandIn, tmp_path: Path) -> None:
    monkeyocr.behave(mode="drain")
    size = 40 * 1024 * 1024
    source = tmp_path / "big.pdf"

    def make_big() -> None:
        with source.open("wb") as file:
            file.write(b"%PDF-1.7\n")
            file.truncate(size)

    await asyncio.to_thread(make_big)
    settings = settings_for(monkeyocr.url, tmp_path)
    async with MonkeyOCRClient(ClientConfig.from_settings(settings)) as client:
        tracemalloc.start()
        try:
            with pytest.raises(EngineError, match="HTTP 400"):
                await client.parse(source, "document.pdf", "application/pdf")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert monkeyocr.server.stats.uploads[0]["size"] > size  # the whole file arrived
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes for a {size} byte upload"


async def test_cancelled_convert_stops_and_cleans_up(monkeyocr: StandIn, tmp_path: Path) -> None:
    monkeyocr.behave(mode="slow", delay_s=5)
    settings = settings_for(monkeyocr.url, tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    source = write(tmp_path / "input.pdf", PDF)
    async with MonkeyOCRClient(ClientConfig.from_settings(settings)) as client:
        engine = MonkeyOCREngine(settings, client)
        job = asyncio.create_task(engine.convert(source, out_dir, ConvertOptions()))
        for _ in range(250):  # until the server holds the request
            if monkeyocr.server.stats.in_flight:
                break
            await asyncio.sleep(0.02)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
    assert files_under(out_dir) == set()
    assert not (out_dir / ".monkeyocr").exists()
