"""The async load generator: `concurrency` workers share a budget of requests (and an
optional time budget) and record each request's latency."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from bench.stats import Summary, summarize

# One request: given its sequence number, do it and return the bytes received or sent.
# Raise RequestFailed (or an httpx error) when it did not succeed.
Request = Callable[[int], Awaitable[int]]


class RequestFailed(Exception):
    """A request answered with an unexpected status."""


@dataclass
class LoadRun:
    """Raw measurements of one run."""

    concurrency: int
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    bytes_moved: int = 0
    elapsed_s: float = 0.0
    error_samples: list[str] = field(default_factory=list)

    def summary(self) -> Summary:
        return summarize(
            self.latencies_s,
            errors=self.errors,
            concurrency=self.concurrency,
            elapsed_s=self.elapsed_s,
            bytes_moved=self.bytes_moved,
        )


async def run_load(
    request: Request,
    *,
    requests: int,
    concurrency: int,
    max_seconds: float | None = None,
) -> LoadRun:
    """Run up to `requests` calls of `request`, `concurrency` at a time. When
    `max_seconds` is given, no new call starts after that time (calls in flight finish),
    but at least `concurrency` calls are made. Returns the measurements."""
    run = LoadRun(concurrency=concurrency)
    counter = iter(range(requests))
    started = time.perf_counter()

    async def worker() -> None:
        for number in counter:
            if (
                max_seconds is not None
                and number >= concurrency
                and time.perf_counter() - started > max_seconds
            ):
                return
            begin = time.perf_counter()
            try:
                moved = await request(number)
            except (RequestFailed, httpx.HTTPError) as exc:
                run.errors += 1
                if len(run.error_samples) < 3:
                    run.error_samples.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            run.latencies_s.append(time.perf_counter() - begin)
            run.bytes_moved += moved

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.elapsed_s = time.perf_counter() - started
    return run


def expect(response: httpx.Response, *statuses: int) -> httpx.Response:
    """The response, when its status is one of `statuses` (200 when none are given).
    Raises RequestFailed otherwise."""
    if response.status_code not in (statuses or (200,)):
        raise RequestFailed(f"HTTP {response.status_code}: {response.text[:120]}")
    return response
