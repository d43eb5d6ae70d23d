"""OpenAI-compatible LLM routes: the model list and chat completions (streamed or not).

Errors here use OpenAI's error shape (`{"error": {"message", "type", "code"}}`, plus
`message`/`detail`), since OpenAI clients are the ones calling.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

from docmill.api.deps import CurrentUser, LanguageDep
from docmill.api.envelope import error_response
from docmill.llm.gateway import ChatStream, InvalidLLMRequest, LLMError, LLMGateway

router = APIRouter(prefix="/api/llm", tags=["llm"])


class EventStreamResponse(StreamingResponse):
    """SSE passed through as it comes; the upstream request is closed however it ends
    (finished, client gone, server stopping)."""

    media_type = "text/event-stream"

    def __init__(self, stream: ChatStream) -> None:
        super().__init__(stream, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._stream.aclose()


async def read_json_body(request: Request, gateway: LLMGateway) -> dict[str, Any]:
    """The request body as a JSON object, read no further than the size cap.

    Raises LLMRequestTooLarge, InvalidLLMRequest.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit():
        gateway.check_size(int(declared))
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        gateway.check_size(len(body))
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise InvalidLLMRequest("The body must be a JSON object.") from exc
    if not isinstance(payload, dict):
        raise InvalidLLMRequest("The body must be a JSON object.")
    return payload


@router.get("/models")
async def list_models(_: CurrentUser, language: LanguageDep) -> dict[str, Any]:
    return await language.llm.models()


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    request: Request, _: CurrentUser, language: LanguageDep
) -> JSONResponse | EventStreamResponse:
    gateway = language.llm
    gateway.ensure_configured()
    body = await read_json_body(request, gateway)
    if body.get("stream"):
        return EventStreamResponse(await gateway.stream_chat(body))
    return JSONResponse(await gateway.chat(body))


def install_llm_error_handler(app: FastAPI) -> None:
    """OpenAI-style errors on /api/llm, the standard envelope elsewhere."""

    @app.exception_handler(LLMError)
    async def llm_error(request: Request, exc: LLMError) -> JSONResponse:
        if not request.url.path.startswith(router.prefix):
            return error_response(exc.status_code, exc.code, exc.message, exc.headers)
        body = {
            "error": {"message": exc.message, "type": exc.code, "code": exc.code},
            "message": exc.message,
            "detail": exc.message,
        }
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
