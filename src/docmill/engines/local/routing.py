"""Per-page routing: a page with a usable text layer takes the fast path, others are OCR'd."""

from __future__ import annotations

import unicodedata

from docmill.engines.local.geometry import TextLine

MIN_TEXT_CHARS = 10  # fewer visible characters than this: the text layer is not the page
MAX_BAD_SHARE = 0.25  # more unmapped or private-use glyphs than this: the layer is garbage


def _is_bad(ch: str) -> bool:
    category = unicodedata.category(ch)
    return ch == "\ufffd" or category in ("Co", "Cc", "Cn")


def text_layer_usable(lines: list[TextLine]) -> bool:
    """Whether the lines of a page's text layer can stand for the page's text."""
    chars = [ch for line in lines for ch in line.text if not ch.isspace()]
    if len(chars) < MIN_TEXT_CHARS:
        return False
    bad = sum(1 for ch in chars if _is_bad(ch))
    return bad / len(chars) <= MAX_BAD_SHARE


def choose_path(lines: list[TextLine], force_ocr: bool) -> str:
    """ "text" for the text-layer path, "ocr" for render and recognize."""
    if force_ocr or not text_layer_usable(lines):
        return "ocr"
    return "text"
