"""The `llm` translation engine: a prompted chat model through the LLM gateway."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from docmill.llm.gateway import LLMError, LLMGateway, LLMNotConfigured, UpstreamError
from docmill.translation.base import LanguagePair, TranslationFailed, TranslatorNotConfigured
from docmill.translation.languages import NAMES, english_name

_RULES = (
    "Keep all Markdown syntax, table structure, HTML tags, LaTeX, code and URLs exactly "
    "as they are, and keep placeholders such as ⟦0⟧ unchanged and in place. Translate "
    "only the human-language text. Do not add notes or explanations."
)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def language_name(code: str) -> str:
    if code in ("", "auto"):
        return "the source language (detect it)"
    return f"{english_name(code)} ({code})"


class LLMTranslator:
    """Sends one text (plain answer) or a list (JSON array in, JSON array out) per call."""

    name = "llm"

    def __init__(
        self,
        gateway: LLMGateway,
        model: str | None = None,
        max_batch_items: int = 20,
        max_batch_chars: int = 6000,
    ) -> None:
        if not gateway.configured:
            raise TranslatorNotConfigured(
                "The llm translation engine needs an LLM: set DOCMILL_LLM_BASE_URL "
                "and DOCMILL_LLM_DEFAULT_MODEL."
            )
        self._gateway = gateway
        self.model = model or gateway.config.default_model or ""
        self.max_batch_items = max_batch_items
        self.max_batch_chars = max_batch_chars

    async def translate(
        self, texts: Sequence[str], source_lang: str, target_lang: str
    ) -> list[str]:
        """Translations in order. Raises TranslationFailed (transient when retry may help)."""
        if not texts:
            return []
        task = f"Translate from {language_name(source_lang)} to {language_name(target_lang)}."
        if len(texts) == 1:
            system = (
                f"You are a translation engine. {task} {_RULES} Answer with the translation only."
            )
            return [await self._ask(system, texts[0])]
        system = (
            f"You are a translation engine. {task} The user's message is a JSON array of "
            f"strings; answer with only a JSON array of their translations, same length, "
            f"same order. {_RULES}"
        )
        answer = await self._ask(system, json.dumps(list(texts), ensure_ascii=False))
        try:
            parsed = json.loads(_FENCE.sub("", answer.strip()))
        except ValueError as exc:
            raise TranslationFailed("The LLM did not answer with a JSON array.", False) from exc
        if (
            not isinstance(parsed, list)
            or len(parsed) != len(texts)
            or not all(isinstance(item, str) for item in parsed)
        ):
            raise TranslationFailed(
                f"The LLM answered {len(parsed) if isinstance(parsed, list) else 'no'} "
                f"translations for {len(texts)} texts.",
                False,
            )
        return parsed

    async def _ask(self, system: str, user: str) -> str:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        try:
            return await self._gateway.complete_text(messages, self.model, temperature=0)
        except LLMNotConfigured as exc:
            raise TranslatorNotConfigured(exc.message) from exc
        except UpstreamError as exc:
            raise TranslationFailed(exc.message, exc.transient) from exc
        except LLMError as exc:  # refused before sending (too large, …): this text fails
            raise TranslationFailed(exc.message, False) from exc

    async def languages(self) -> list[LanguagePair]:
        """Every pair of the languages the prompt names (any model handles these)."""
        return [LanguagePair(s, t) for s in NAMES for t in NAMES if s != t]
