"""The Translator interface every engine implements, and the translation errors."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from docmill.errors import DocmillError, InvalidInput

LANG_CODE = re.compile(r"^(auto|[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?)$")


class TranslationError(DocmillError):
    """Base of translation errors; `code`/`status_code` feed the API error envelope."""

    code = "translation_error"
    status_code = 502


class TranslatorNotConfigured(TranslationError):
    code = "translator_not_configured"
    status_code = 503
    headers = {"Retry-After": "300"}


class UnknownEngine(TranslationError):
    code = "unknown_translation_engine"
    status_code = 400


class TranslationFailed(TranslationError):
    """One upstream translation call failed; `transient` says a retry may help."""

    code = "translation_failed"
    status_code = 502

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class LanguagePair:
    source: str
    target: str


class Translator(Protocol):
    """One translation engine. `name` and `model` are part of every cache key."""

    name: str
    model: str
    max_batch_items: int  # texts sent together in one upstream request
    max_batch_chars: int

    async def translate(
        self, texts: Sequence[str], source_lang: str, target_lang: str
    ) -> list[str]:
        """One translation per text, in order. Raises TranslationFailed."""
        ...

    async def languages(self) -> list[LanguagePair]:
        """The supported (source, target) pairs. Raises TranslationFailed."""
        ...


def check_lang(code: str, field: str, allow_auto: bool = False) -> str:
    """`code` if it is a language code ('en', 'zh-TW'; 'auto' when allowed). Raises InvalidInput."""
    if not LANG_CODE.match(code) or (code == "auto" and not allow_auto):
        raise InvalidInput(
            f"'{field}' must be a language code such as 'en', 'fr' or 'zh-TW'"
            + (" (or 'auto')." if allow_auto else "."),
            code="invalid_language",
        )
    return code
