"""Engine registry. Engines are imported lazily so the API process never loads models."""

from __future__ import annotations

import importlib
from functools import cache

from docmill.engines.base import AsyncEngine, Engine

BUILTIN_ENGINES: dict[str, str] = {
    "pdf_text": "docmill.engines.pdf_text:PdfTextEngine",
    "local": "docmill.engines.local:LocalEngine",
    "monkeyocr": "docmill.engines.monkeyocr:MonkeyOCREngine",
}


class UnknownEngine(LookupError):
    pass


def engine_specs(extra: list[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """Built-in engines plus `name=module:Class` entries from the EXTRA_ENGINES setting."""
    specs = dict(BUILTIN_ENGINES)
    for entry in extra:
        name, _, target = entry.partition("=")
        if name and target:
            specs[name.strip()] = target.strip()
    return specs


@cache
def load_engine(target: str) -> Engine | AsyncEngine:
    """One engine instance per process for `module:Class` (models stay loaded)."""
    module_name, _, class_name = target.partition(":")
    engine_class = getattr(importlib.import_module(module_name), class_name)
    return engine_class()  # type: ignore[no-any-return]


def get_engine(name: str, extra: list[str] | tuple[str, ...] = ()) -> Engine | AsyncEngine:
    specs = engine_specs(extra)
    if name not in specs:
        raise UnknownEngine(name)
    return load_engine(specs[name])
