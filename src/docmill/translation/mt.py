"""The `mt` translation engine: an MT HTTP server speaking `POST /translate/batch`.

Request `{items: [{index, text}], source_lang, target_lang}`; answer
`{results: [{index, translated_text}]}` (optionally inside a `data` envelope).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx

from docmill.llm.gateway import TRANSIENT_STATUSES
from docmill.translation.base import LanguagePair, TranslationFailed

logger = logging.getLogger(__name__)


def _unwrap(payload: Any) -> Any:
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        return payload["data"]
    return payload


class MTTranslator:
    """One pooled client to the MT server at `base_url`."""

    name = "mt"
    model = ""

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 10.0,
        max_batch_items: int = 32,
        max_batch_chars: int = 8000,
        max_connections: int = 16,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_batch_items = max_batch_items
        self.max_batch_chars = max_batch_chars
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            limits=httpx.Limits(max_connections=max_connections),
        )

    async def _call(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        try:
            response = await self._client.request(method, path, json=body)
        except httpx.TransportError as exc:
            # The address stays in the log: answers to clients never name upstreams.
            logger.warning("MT server %s could not be reached: %r", self.base_url, exc)
            raise TranslationFailed(
                f"The MT server could not be reached ({type(exc).__name__}).", True
            ) from exc
        if response.status_code >= 400:
            raise TranslationFailed(
                f"The MT server answered {response.status_code}: {response.text[:200]}",
                response.status_code in TRANSIENT_STATUSES,
            )
        try:
            return _unwrap(response.json())
        except ValueError as exc:
            raise TranslationFailed("The MT server's answer is not JSON.", False) from exc

    async def translate(
        self, texts: Sequence[str], source_lang: str, target_lang: str
    ) -> list[str]:
        """Translations in order. Raises TranslationFailed."""
        if not texts:
            return []
        body = {
            "items": [{"index": i, "text": text} for i, text in enumerate(texts)],
            "source_lang": source_lang,
            "target_lang": target_lang,
        }
        payload = await self._call("POST", "/translate/batch", body)
        by_index: dict[int, str] = {}
        for result in payload.get("results", []) if isinstance(payload, dict) else []:
            text = result.get("translated_text") if isinstance(result, dict) else None
            if isinstance(text, str) and isinstance(result.get("index"), int):
                by_index[result["index"]] = text
        missing = [i for i in range(len(texts)) if i not in by_index]
        if missing:
            raise TranslationFailed(
                f"The MT server returned no translation for {len(missing)} of {len(texts)} texts.",
                False,
            )
        return [by_index[i] for i in range(len(texts))]

    async def languages(self) -> list[LanguagePair]:
        """The server's `GET /languages` pairs. Raises TranslationFailed."""
        payload = await self._call("GET", "/languages", None)
        pairs = payload.get("pairs", []) if isinstance(payload, dict) else []
        return [
            LanguagePair(str(p["source"]), str(p["target"]))
            for p in pairs
            if isinstance(p, dict) and "source" in p and "target" in p
        ]

    async def aclose(self) -> None:
        await self._client.aclose()
