"""The Translator interface every engine implements, and the translation errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class TranslationError(Exception):
    """Base of translation errors; `code`/`status_code` feed the API error envelope."""

    code = "translation_error"
    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TranslatorNotConfigured(TranslationError):
    code = "translator_not_configured"
    status_code = 503


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
