"""The state of one instance's dependencies: probed fresh for `/ready`, cached for `/health`.

`/health` is a hot liveness path, so it never waits on a probe: it answers the last
report, and a report older than `max_age_s` starts one refresh in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy import text

from docmill import __version__

if TYPE_CHECKING:
    from docmill.services import Services

PROBE_TIMEOUT_S = 5.0  # one probe of one dependency
OK = "ok"
OFF = "off"  # present but switched off (the job runner of an API-only process)

Probe = Callable[[], Awaitable[dict[str, str]]]


async def _bounded(check: Awaitable[str]) -> str:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            return await check
    except TimeoutError:
        return f"error: no answer within {PROBE_TIMEOUT_S:g} s"
    except Exception as exc:  # any failure of a dependency is its state, reported as such
        return f"error: {type(exc).__name__}"


async def _database(services: Services) -> str:
    async with services.db.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return OK


async def _monkeyocr(services: Services) -> str:
    from docmill.engines.monkeyocr import check_health

    return OK if await check_health(services.settings) else "error: unreachable or unhealthy"


async def probe_dependencies(services: Services) -> dict[str, str]:
    """Each configured dependency's state: "ok", "off" or "error: <why>". Names the
    database and job runner always, `redis` and `monkeyocr` when they are configured.
    Every probe has a deadline; none raises."""
    settings = services.settings
    probes = {"database": _bounded(_database(services))}
    if settings.monkeyocr_url:
        probes["monkeyocr"] = _bounded(_monkeyocr(services))
    states = dict(zip(probes, await asyncio.gather(*probes.values()), strict=True))
    states["job_runner"] = OK if services.runner is not None else OFF
    if settings.redis_url:
        states["redis"] = OK if services.events.connected else "error: not connected"
    return states


HealthStatus = Literal["healthy", "degraded"]


@dataclass(frozen=True)
class HealthReport:
    status: HealthStatus
    services: dict[str, str]
    checked_at: float  # time.monotonic()

    @classmethod
    def of(cls, states: dict[str, str]) -> HealthReport:
        healthy = all(state in (OK, OFF) for state in states.values())
        return cls("healthy" if healthy else "degraded", states, time.monotonic())

    def view(self) -> dict[str, object]:
        return {"status": self.status, "services": self.services, "version": __version__}


class HealthMonitor:
    """The latest HealthReport, its JSON kept encoded, refreshed at most every `max_age_s`."""

    def __init__(self, probe: Probe, max_age_s: float = 2.0) -> None:
        self._probe = probe
        self._max_age_s = max_age_s
        self._report: HealthReport | None = None
        self._body = b""
        self._refreshing: asyncio.Task[None] | None = None

    async def report(self) -> tuple[HealthReport, bytes]:
        """The latest report and its JSON body. Waits only for the very first probe."""
        if self._report is None:
            await asyncio.shield(self._refresh_once())
        elif time.monotonic() - self._report.checked_at >= self._max_age_s:
            self._refresh_once()
        assert self._report is not None
        return self._report, self._body

    def _refresh_once(self) -> asyncio.Task[None]:
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._refresh(), name="docmill-health-probe")
        return self._refreshing

    async def _refresh(self) -> None:
        report = HealthReport.of(await self._probe())
        self._body = json.dumps(report.view(), separators=(",", ":")).encode()
        self._report = report

    async def close(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refreshing
