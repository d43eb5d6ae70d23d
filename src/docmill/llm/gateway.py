"""The gateway to an OpenAI-compatible LLM server: one pooled client, checked requests.

Every request is checked before it leaves: the model must be on the allow-list,
`max_tokens` is capped, the size is capped. Non-streaming completions are cached by
their canonical request. Streams are passed through line by line as they arrive and
the upstream request is closed as soon as the consumer stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from docmill.cache import Cache, completion_key
from docmill.config import Settings
from docmill.errors import DocmillError

logger = logging.getLogger(__name__)

# Statuses worth another try: the upstream may answer differently in a moment.
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class LLMError(DocmillError):
    """Base of the gateway's errors; `code` is a stable error code for the API envelope."""

    code = "llm_error"
    status_code = 502


class LLMNotConfigured(LLMError):
    code = "llm_not_configured"
    status_code = 503
    headers = {"Retry-After": "300"}


class ModelNotAllowed(LLMError):
    code = "model_not_allowed"
    status_code = 400


class InvalidLLMRequest(LLMError):
    code = "invalid_llm_request"
    status_code = 422


class LLMRequestTooLarge(LLMError):
    code = "llm_request_too_large"
    status_code = 413


class UpstreamError(LLMError):
    """The LLM server failed or could not be reached. `transient` says a retry may help."""

    code = "llm_upstream_error"
    status_code = 502

    def __init__(self, message: str, upstream_status: int | None, transient: bool) -> None:
        super().__init__(message)
        self.upstream_status = upstream_status
        self.transient = transient


NOT_CONFIGURED_MESSAGE = (
    "No LLM is configured: set DOCMILL_LLM_BASE_URL to an OpenAI-compatible server "
    "(e.g. http://host:8000/v1) and DOCMILL_LLM_DEFAULT_MODEL."
)


@dataclass(frozen=True)
class LLMConfig:
    base_url: str | None
    api_key: str | None = None
    models: tuple[str, ...] = ()
    default_model: str | None = None
    max_tokens: int = 4096
    concurrency: int = 8
    timeout_s: float = 120.0
    connect_timeout_s: float = 10.0
    max_request_bytes: int = 512 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMConfig:
        return cls(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            models=tuple(settings.llm_models),
            default_model=settings.llm_default_model,
            max_tokens=settings.llm_max_tokens,
            concurrency=settings.llm_concurrency,
            timeout_s=settings.llm_timeout_s,
            connect_timeout_s=settings.llm_connect_timeout_s,
            max_request_bytes=settings.llm_max_request_kb * 1024,
        )

    @property
    def configured(self) -> bool:
        return bool(self.base_url)

    @property
    def allowed_models(self) -> tuple[str, ...]:
        """The allow-list plus the default model; empty means the upstream decides."""
        if self.default_model and self.default_model not in self.models:
            return (*self.models, self.default_model)
        return self.models


def _upstream_message(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if payload.get("detail"):
            return str(payload["detail"])
    return response.text[:300]


class ChatStream:
    """An open streaming completion: iterate for SSE events (bytes), always `aclose`.

    Yields `data: …\\n\\n` events as the upstream sends them and ends with
    `data: [DONE]\\n\\n` (added if the upstream did not send it). Closing, or cancelling
    the task that iterates, closes the upstream request and frees its concurrency slot.
    """

    def __init__(self, response: httpx.Response, release: Any) -> None:
        self._response = response
        self._release = release
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for line in self._response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                yield f"data: {payload}\n\n".encode()
                if payload == "[DONE]":
                    return
            yield b"data: [DONE]\n\n"
        except httpx.TransportError as exc:
            error = {"error": {"message": f"LLM stream broke off: {exc}", "type": "upstream"}}
            yield f"data: {json.dumps(error)}\n\n".encode()
            yield b"data: [DONE]\n\n"
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Shielded: closing must finish even inside a cancelled scope (client gone).
        with anyio.CancelScope(shield=True):
            await self._response.aclose()
        self._release()


class LLMGateway:
    """Talks to one OpenAI-compatible server through one pooled `httpx.AsyncClient`.

    `transport` is for tests and special set-ups; normally the default network one.
    """

    def __init__(
        self,
        config: LLMConfig,
        cache: Cache | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self._cache = cache
        self._semaphore = asyncio.Semaphore(max(1, config.concurrency))
        self._client: httpx.AsyncClient | None = None
        if config.configured:
            headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
            self._client = httpx.AsyncClient(
                base_url=str(config.base_url).rstrip("/"),
                headers=headers,
                timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
                limits=httpx.Limits(max_connections=max(1, config.concurrency) * 2),
                transport=transport,
            )

    @property
    def configured(self) -> bool:
        return self._client is not None

    def ensure_configured(self) -> None:
        """Raises LLMNotConfigured (saying which setting to set) when there is no LLM."""
        self._require_client()

    def _require_client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise LLMNotConfigured(NOT_CONFIGURED_MESSAGE)
        return self._client

    def check_size(self, n_bytes: int) -> None:
        """Raises `LLMRequestTooLarge` when a request body of `n_bytes` is over the cap."""
        if n_bytes > self.config.max_request_bytes:
            raise LLMRequestTooLarge(
                f"The request is {n_bytes // 1024} KiB; the limit is "
                f"{self.config.max_request_bytes // 1024} KiB (DOCMILL_LLM_MAX_REQUEST_KB)."
            )

    def prepare(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The request as it will be sent: model filled in and allowed, `max_tokens` capped.

        Raises LLMNotConfigured, InvalidLLMRequest, ModelNotAllowed, LLMRequestTooLarge.
        """
        self._require_client()
        self.check_size(len(json.dumps(request, ensure_ascii=False).encode()))
        prepared = dict(request)
        messages = prepared.get("messages")
        if not isinstance(messages, list) or not messages:
            raise InvalidLLMRequest("'messages' must be a non-empty list.")
        model = prepared.get("model") or self.config.default_model
        if not model:
            raise InvalidLLMRequest("No 'model' given and DOCMILL_LLM_DEFAULT_MODEL is not set.")
        allowed = self.config.allowed_models
        if allowed and model not in allowed:
            raise ModelNotAllowed(
                f"Model '{model}' is not allowed; choose one of: {', '.join(allowed)}."
            )
        prepared["model"] = model
        cap = self.config.max_tokens
        limited = False
        for field in ("max_tokens", "max_completion_tokens"):
            value = prepared.get(field)
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidLLMRequest(f"'{field}' must be a positive integer.")
            prepared[field] = min(value, cap)
            limited = True
        if not limited:
            prepared["max_tokens"] = cap
        return prepared

    async def models(self) -> dict[str, Any]:
        """OpenAI-style model list: the allow-list, or the upstream's list when none is set."""
        client = self._require_client()
        allowed = self.config.allowed_models
        if allowed:
            data = [{"id": m, "object": "model", "owned_by": "docmill"} for m in allowed]
            return {"object": "list", "data": data}
        response = await self._send(client, "GET", "/models", None)
        payload: dict[str, Any] = response.json()
        return payload

    async def chat(self, request: Mapping[str, Any], use_cache: bool = True) -> dict[str, Any]:
        """A non-streaming completion (the upstream's JSON), from the cache when seen before.

        Raises the `prepare` errors and UpstreamError.
        """
        client = self._require_client()
        prepared = self.prepare(request)
        prepared.pop("stream", None)
        key = completion_key(prepared)
        if use_cache and self._cache is not None:
            cached = await self._cache.get_json(key)
            if cached is not None:
                return dict(cached)
        response = await self._send(client, "POST", "/chat/completions", prepared)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise UpstreamError("The LLM server's answer is not a JSON object.", 200, False)
        if use_cache and self._cache is not None and payload.get("choices"):
            await self._cache.set_json(key, payload)
        return dict(payload)

    async def complete_text(
        self, messages: list[dict[str, str]], model: str | None = None, **params: Any
    ) -> str:
        """The assistant's text for `messages` (no completion cache: callers cache results)."""
        payload = await self.chat({"model": model, "messages": messages, **params}, False)
        try:
            return str(payload["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError) as exc:
            raise UpstreamError("The LLM server's answer has no message.", 200, False) from exc

    async def stream_chat(self, request: Mapping[str, Any]) -> ChatStream:
        """Open a streaming completion. Errors come here, before anything is streamed.

        The caller must `aclose()` the stream (iterating it to the end does that too).
        """
        client = self._require_client()
        prepared = self.prepare(request)
        prepared["stream"] = True
        await self._semaphore.acquire()
        try:
            upstream = client.build_request("POST", "/chat/completions", json=prepared)
            response = await client.send(upstream, stream=True)
        except httpx.TransportError as exc:
            self._semaphore.release()
            raise self._transport_error(exc) from exc
        except BaseException:
            self._semaphore.release()
            raise
        if response.status_code >= 400:
            try:
                await response.aread()
            finally:
                await response.aclose()
                self._semaphore.release()
            raise self._status_error(response)
        return ChatStream(response, self._semaphore.release)

    async def _send(
        self, client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
    ) -> httpx.Response:
        async with self._semaphore:
            try:
                response = await client.request(method, path, json=body)
            except httpx.TransportError as exc:
                raise self._transport_error(exc) from exc
        if response.status_code >= 400:
            raise self._status_error(response)
        return response

    def _transport_error(self, exc: httpx.TransportError) -> UpstreamError:
        if isinstance(exc, httpx.TimeoutException):
            error = UpstreamError(
                f"The LLM server did not answer in time ({type(exc).__name__}).", None, True
            )
            error.status_code = 504
            return error
        # The address stays in the log: answers to clients never name upstreams.
        logger.warning("LLM server %s could not be reached: %r", self.config.base_url, exc)
        return UpstreamError(
            f"The LLM server could not be reached ({type(exc).__name__}).", None, True
        )

    @staticmethod
    def _status_error(response: httpx.Response) -> UpstreamError:
        status = response.status_code
        return UpstreamError(
            f"The LLM server answered {status}: {_upstream_message(response)}",
            status,
            status in TRANSIENT_STATUSES,
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
