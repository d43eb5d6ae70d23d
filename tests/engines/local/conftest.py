"""Generated documents and their conversions, each made once per test session."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from docmill.document import Document
from docmill.engines.base import ConvertOptions
from docmill.engines.local import LocalEngine
from tests.support import scans

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures"
IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass
class Conversion:
    document: Document
    out_dir: Path
    progress: list[tuple[int, int]] = field(default_factory=list)

    @property
    def markdown(self) -> str:
        return self.document.markdown

    def body_text(self) -> str:
        """Text of every block but headers and footers, in reading order."""
        return "\n".join(b.text for b in self.document.blocks if b.type not in ("header", "footer"))


@pytest.fixture(scope="session")
def engine() -> LocalEngine:
    return LocalEngine()


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, scans.Sample]:
    return scans.generate_cases(tmp_path_factory.mktemp("samples"))


@pytest.fixture(scope="session")
def convert(
    engine: LocalEngine,
    samples: dict[str, scans.Sample],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., Conversion]:
    """convert(name or path, force_ocr=False): the conversion, done once per session."""
    done: dict[tuple[str, bool], Conversion] = {}

    def run(name: str | Path, force_ocr: bool = False) -> Conversion:
        key = (str(name), force_ocr)
        if key not in done:
            path = name if isinstance(name, Path) else samples[name].path
            out_dir = tmp_path_factory.mktemp("out")
            conversion = Conversion(document=None, out_dir=out_dir)  # type: ignore[arg-type]
            conversion.document = engine.convert(
                path,
                out_dir,
                ConvertOptions(force_ocr=force_ocr),
                lambda d, n: conversion.progress.append((d, n)),
            )
            done[key] = conversion
        return done[key]

    return run


def need_cjk_font() -> None:
    """Skip without a CJK font; in CI (CI=true) its absence is a failure."""
    if scans.find_cjk_font() is None:
        message = "no CJK font: apt-get install fonts-wqy-microhei (see Makefile)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """The shared fixture folder (study_notes.pdf, table_pic.png)."""
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    return FIXTURES
