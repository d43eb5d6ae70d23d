"""The stand-in MonkeyOCR server as a pytest fixture, and helpers to read what it made."""

from __future__ import annotations

import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_asyncio

from docmill.devtools.fake_monkeyocr import Behaviour, FakeMonkeyOCR, running_fake_monkeyocr


@dataclass
class StandIn:
    server: FakeMonkeyOCR
    url: str

    def behave(self, **values: Any) -> None:
        """Start over with this behaviour and fresh counters."""
        self.server.reset(Behaviour(**values))


@pytest_asyncio.fixture
async def monkeyocr(tmp_path: Path) -> AsyncIterator[StandIn]:
    """A stand-in MonkeyOCR server on 127.0.0.1, behaving well until told otherwise."""
    async with running_fake_monkeyocr(tmp_path / "fake-monkeyocr") as (server, url):
        yield StandIn(server, url)


def produced_entries(zip_path: str) -> dict[str, bytes]:
    with zipfile.ZipFile(zip_path) as bundle:
        return {name: bundle.read(name) for name in bundle.namelist()}
