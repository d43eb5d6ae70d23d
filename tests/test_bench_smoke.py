"""The benchmark's own arithmetic on known numbers, and a tiny end-to-end run of the whole
suite (a real server process, every scenario at `--quick --scale` sizes). Nothing here
asserts a timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.load import RequestFailed, run_load
from bench.runner import main
from bench.stats import percentile, summarize


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 0) == 1
    assert percentile(values, 100) == 100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([3.0, 1.0, 2.0], 50) == 2  # order of input does not matter
    assert percentile([7.0], 99) == 7


def test_percentile_refuses_empty_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summary_reports_milliseconds_and_rates() -> None:
    latencies = [0.010] * 90 + [0.100] * 10  # seconds
    summary = summarize(
        latencies, errors=2, concurrency=4, elapsed_s=2.0, bytes_moved=10 * 1024 * 1024
    )
    assert summary.requests == 102
    assert summary.errors == 2
    assert summary.p50_ms == 10.0
    assert summary.p95_ms == 100.0
    assert summary.p99_ms == 100.0
    assert summary.requests_per_s == 50.0  # successes over wall time
    assert summary.mb_per_s == 5.0


def test_summary_of_a_run_with_only_errors() -> None:
    summary = summarize([], errors=3, concurrency=1, elapsed_s=1.0)
    assert (summary.requests, summary.p50_ms, summary.requests_per_s) == (3, None, 0.0)
    assert summary.mb_per_s is None


async def test_load_generator_counts_requests_errors_and_bytes() -> None:
    seen: list[int] = []

    async def request(number: int) -> int:
        seen.append(number)
        if number % 5 == 4:
            raise RequestFailed("every fifth fails")
        return 100

    run = await run_load(request, requests=20, concurrency=3)
    assert sorted(seen) == list(range(20))
    assert run.errors == 4
    assert len(run.latencies_s) == 16
    assert run.bytes_moved == 1600
    assert run.summary().requests == 20


async def test_load_generator_stops_at_the_time_budget() -> None:
    async def request(_: int) -> int:
        return 0

    run = await run_load(request, requests=10**9, concurrency=2, max_seconds=0.05)
    assert 2 <= len(run.latencies_s) < 10**9


def test_whole_bench_runs_at_a_tiny_scale(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    assert main(["--quick", "--scale", "0.2", "--no-record", "--out", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    scenarios = {result["scenario"].split()[0] for result in results}
    assert scenarios == {"1", "2", "3", "4", "5", "6"}
    measured = [result for result in results if result["rate_unit"] != "n/a"]
    assert measured and all(result["errors"] == 0 for result in measured)


def test_docmill_bench_command_runs_the_suite(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from docmill.bench_cli import bench_app

    out = tmp_path / "results.json"
    result = CliRunner().invoke(
        bench_app, ["--quick", "--only", "6", "--no-record", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())["results"]
    assert {row["scenario"] for row in rows} == {"6 translation", "6 websocket"}
