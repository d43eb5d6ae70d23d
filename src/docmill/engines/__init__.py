"""Engine registry. Engines are imported lazily so the API process never loads models."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any

from docmill.engines.base import AsyncEngine, Engine


@dataclass(frozen=True)
class EngineSpec:
    target: str  # "module:Class"
    kind: str = "cpu"  # "cpu": process pool; "io": asyncio task
    #: "module:function(executor, path, out_dir, options, progress) -> Document" that
    #: spreads one document's pages over the pool (blocking; run in a thread).
    paged: str | None = None


BUILTIN_ENGINES: dict[str, EngineSpec] = {
    "pdf_text": EngineSpec("docmill.engines.pdf_text:PdfTextEngine"),
    "local": EngineSpec(
        "docmill.engines.local:LocalEngine",
        paged="docmill.engines.local.fanout:convert_with_pool",
    ),
    "monkeyocr": EngineSpec("docmill.engines.monkeyocr:MonkeyOCREngine", "io"),
    # HTML, Markdown and e-mail: chosen by the file type, whatever engine was asked for.
    "markup": EngineSpec("docmill.engines.markup:MarkupEngine"),
}


class UnknownEngine(LookupError):
    pass


def engine_specs(extra: tuple[str, ...] = ()) -> dict[str, EngineSpec]:
    """Built-in engines plus `name=module:Class[@io]` entries of the EXTRA_ENGINES setting."""
    specs = dict(BUILTIN_ENGINES)
    for entry in extra:
        name, _, target = entry.partition("=")
        target, _, kind = target.partition("@")
        if name.strip() and target.strip():
            specs[name.strip()] = EngineSpec(target.strip(), kind.strip() or "cpu")
    return specs


def engine_spec(name: str, extra: tuple[str, ...] = ()) -> EngineSpec:
    """The spec of a registered engine. Raises UnknownEngine."""
    specs = engine_specs(extra)
    if name not in specs:
        raise UnknownEngine(name)
    return specs[name]


@cache
def load_engine(target: str) -> Engine | AsyncEngine:
    """One engine instance per process for `module:Class` (models stay loaded)."""
    module_name, _, class_name = target.partition(":")
    engine_class = getattr(importlib.import_module(module_name), class_name)
    return engine_class()  # type: ignore[no-any-return]


def load_function(target: str) -> Any:
    """The function named by "module:function"."""
    module_name, _, name = target.partition(":")
    return getattr(importlib.import_module(module_name), name)


def init_worker(threads: int) -> None:
    """Pool initializer: engine models in this worker use `threads` threads each, so the
    workers share the cores instead of oversubscribing them."""
    from docmill.engines.local.models import use_threads

    use_threads(threads)


def get_engine(name: str, extra: tuple[str, ...] = ()) -> Engine | AsyncEngine:
    return load_engine(engine_spec(name, extra).target)
