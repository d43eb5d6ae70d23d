"""The ONNX models of the local engine: created on first use, once per process, then reused.

Nothing here runs at import time, so importing the engine (as the API process does to read
its name) never loads a model. Both models ship inside their wheels; no network is used.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rapid_layout import RapidLayout
    from rapidocr import RapidOCR

_lock = threading.Lock()
# The largest side, in pixels, of an image RapidOCR reads lines from.
OCR_MAX_SIDE = 2400
# The largest side the text detector works at: 4x faster than full size on a 200 dpi A4
# page, while line boxes are still found; recognition still reads full-size crops.
DETECT_MAX_SIDE = 1600


def _quiet(prefixes: tuple[str, ...]) -> None:
    """Both libraries log every model load at INFO; a worker needs warnings only."""
    for name in list(logging.root.manager.loggerDict):
        if name.startswith(prefixes):
            logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def _no_info_logs() -> Iterator[None]:
    """rapid-layout builds its loggers (at INFO) while loading, so mute INFO meanwhile."""
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(previous)


_thread_override: int | None = None


def use_threads(threads: int) -> None:
    """Run both models with `threads` onnxruntime threads in this process, whatever the
    setting says (a pool worker that shares the cores with its siblings passes 1).
    Only models created afterwards are affected: call it before the first page."""
    global _thread_override
    _thread_override = threads


def _threads() -> int:
    if _thread_override is not None:
        return _thread_override
    from docmill.config import Settings

    return Settings().local_ocr_threads


def ocr_model() -> RapidOCR:
    """The process's RapidOCR (PP-OCR det + cls + rec, Chinese and English), loaded once."""
    with _lock:
        return _ocr_model()


@cache
def _ocr_model() -> RapidOCR:
    from rapidocr import RapidOCR

    threads = _threads()
    with _no_info_logs():
        model = RapidOCR(
            params={
                "Global.log_level": "warning",
                # The 0/180 degree line classifier turns some upright bold words upside down
                # ("Solution" read as "uoinios"); document lines are upright, so skip it.
                "Global.use_cls": False,
                # Per-word boxes (Page.words, for the searchable PDF).
                "Global.return_word_box": True,
                "Global.max_side_len": OCR_MAX_SIDE,
                "Det.limit_type": "max",
                "Det.limit_side_len": DETECT_MAX_SIDE,
                "EngineConfig.onnxruntime.intra_op_num_threads": threads if threads > 0 else -1,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )
    _quiet(("RapidOCR", "rapidocr"))
    return model


def layout_model() -> RapidLayout:
    """The process's rapid-layout model (PP layout, CDLA labels), loaded once."""
    with _lock:
        return _layout_model()


@cache
def _layout_model() -> RapidLayout:
    import rapid_layout

    model_path = Path(rapid_layout.__file__).parent / "models" / "layout_cdla.onnx"
    threads = _threads()
    engine_cfg: dict[str, object] = {"inter_op_num_threads": 1}
    if threads > 0:
        engine_cfg["intra_op_num_threads"] = threads
    with _no_info_logs():
        model = rapid_layout.RapidLayout(
            model_type="pp_layout_cdla",
            model_dir_or_path=str(model_path),
            engine_cfg=engine_cfg,
            conf_thresh=0.4,
        )
    _quiet(("rapid_layout", "RapidLayout"))
    return model
