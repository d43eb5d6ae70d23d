"""Choosing the engine, and the protected-span masking."""

from __future__ import annotations

import pytest

from docmill.config import Settings
from docmill.translation.base import TranslatorNotConfigured, UnknownEngine
from docmill.translation.engines import resolve_engine
from docmill.translation.protect import mask, needs_translation, unmask


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_request_engine_wins() -> None:
    s = settings(llm_base_url="http://llm/v1", translate_engine="llm")
    assert resolve_engine("mt", s) == "mt"


def test_setting_comes_next() -> None:
    s = settings(llm_base_url="http://llm/v1", mt_url="http://mt", translate_engine="mt")
    assert resolve_engine(None, s) == "mt"


def test_llm_when_configured_else_mt() -> None:
    assert resolve_engine(None, settings(llm_base_url="http://l/v1", mt_url="http://m")) == "llm"
    assert resolve_engine(None, settings(mt_url="http://m")) == "mt"


def test_nothing_configured_says_what_to_set() -> None:
    with pytest.raises(TranslatorNotConfigured, match="DOCMILL_MT_URL") as caught:
        resolve_engine(None, settings())
    assert "DOCMILL_LLM_BASE_URL" in caught.value.message
    assert caught.value.status_code == 503


def test_unknown_engine_is_a_client_error() -> None:
    with pytest.raises(UnknownEngine):
        resolve_engine("babelfish", settings())


def test_llm_models_setting_is_a_comma_list() -> None:
    assert settings(llm_models="a, b,,c").llm_models == ["a", "b", "c"]


def test_mask_round_trip_keeps_protected_spans() -> None:
    text = "See $a_1$ and \\(b\\), `x`, [link](http://e.com/a) <b>bold</b>\n$$\nc\n$$"
    masked, spans = mask(text)
    assert "$" not in masked and "http" not in masked and "<b>" not in masked
    assert unmask(masked, spans) == text
    assert needs_translation(masked)


def test_placeholder_only_text_needs_no_translation() -> None:
    masked, _ = mask("$$x$$ 12 (3)")
    assert not needs_translation(masked)
