"""A stand-in for an OpenAI-compatible LLM server and an MT server, for tests and demos.

A plain ASGI app (no framework, so disconnects are seen exactly) served by uvicorn on
127.0.0.1 in a background thread:

- `GET /v1/models`, `POST /v1/chat/completions` (stream and non-stream). The "model"
  answers the last user message upper-cased; a message that is a JSON list of strings
  gets a JSON list of upper-cased strings back.
- `POST /translate/batch` (`{items: [{index, text}], source_lang, target_lang}` →
  `{results: [{index, translated_text}]}`, text prefixed `[target] `) and
  `GET /languages`, as an MT server would.

Knobs and counters live on `FakeUpstream.state`: latency, stream pacing, failures for
inputs containing chosen markers, calls, requests in flight (and the most seen at once),
streams finished and streams abandoned by the client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn

Scope = dict[str, Any]
Message = dict[str, Any]


@dataclass
class FakeState:
    latency_s: float = 0.0  # before any answer (first chunk, when streaming)
    chunk_delay_s: float = 0.0  # between stream chunks
    models: list[str] = field(default_factory=lambda: ["fake-small", "fake-large"])
    # marker -> failures left (None: always). A request whose text contains the marker fails.
    failures: dict[str, int | None] = field(default_factory=dict)
    fail_status: int = 500
    stream_break_after: int | None = None  # drop the connection after this many chunks
    broken_lists: bool = False  # answer JSON-list requests with plain text, as a sloppy LLM might
    calls: int = 0
    mt_calls: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    streams_started: int = 0
    streams_completed: int = 0
    disconnects: int = 0
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=1000))

    def reset_counters(self) -> None:
        self.calls = self.mt_calls = self.in_flight = self.max_in_flight = 0
        self.streams_started = self.streams_completed = self.disconnects = 0
        self.requests.clear()


def _fake_translate(content: str) -> str:
    try:
        parsed = json.loads(content)
    except ValueError:
        return content.upper()
    if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
        return json.dumps([item.upper() for item in parsed], ensure_ascii=False)
    return content.upper()


class FakeUpstreamApp:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        body = await self._read_body(receive)
        if method == "GET" and path == "/v1/models":
            data = [{"id": m, "object": "model", "owned_by": "fake"} for m in self.state.models]
            await self._json(send, 200, {"object": "list", "data": data})
        elif method == "POST" and path == "/v1/chat/completions":
            await self._tracked(self._chat(json.loads(body), receive, send))
        elif method == "POST" and path == "/translate/batch":
            await self._tracked(self._mt_batch(json.loads(body), send))
        elif method == "GET" and path == "/languages":
            pairs = [{"source": s, "target": t} for s in ("en", "zh") for t in ("fr", "de", "zh")]
            await self._json(send, 200, {"pairs": [p for p in pairs if p["source"] != p["target"]]})
        else:
            await self._json(send, 404, {"error": {"message": "not found"}})

    async def _tracked(self, handler: Any) -> None:
        state = self.state
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            await handler
        finally:
            state.in_flight -= 1

    def _should_fail(self, texts: list[str]) -> bool:
        for marker, left in self.state.failures.items():
            if any(marker in text for text in texts):
                if left is None:
                    return True
                if left > 0:
                    self.state.failures[marker] = left - 1
                    return True
        return False

    async def _chat(self, request: dict[str, Any], receive: Any, send: Any) -> None:
        state = self.state
        state.calls += 1
        state.requests.append(request)
        messages = request.get("messages") or []
        user = [m.get("content", "") for m in messages if m.get("role") == "user"]
        content = str(user[-1]) if user else ""
        await asyncio.sleep(state.latency_s)
        if self._should_fail([content]):
            error = {"error": {"message": "injected failure", "type": "server_error"}}
            await self._json(send, state.fail_status, error)
            return
        reply = _fake_translate(content)
        if state.broken_lists and reply.startswith("["):
            reply = "Sure! Here are the translations: " + reply
        model = request.get("model", "")
        if request.get("stream"):
            await self._stream(model, reply, receive, send)
            return
        await self._json(
            send,
            200,
            {
                "id": f"chatcmpl-{state.calls}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": len(content), "completion_tokens": len(reply)},
            },
        )

    async def _stream(self, model: str, reply: str, receive: Any, send: Any) -> None:
        state = self.state
        state.streams_started += 1
        disconnected = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()

        watcher = asyncio.create_task(watch())
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        pieces = re.findall(r"\S+\s*", reply) or [""]
        try:
            for number, piece in enumerate(pieces):
                if number and state.chunk_delay_s:
                    # Wait for the next chunk's time, or stop early when the client leaves.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(disconnected.wait(), state.chunk_delay_s)
                if disconnected.is_set():
                    state.disconnects += 1
                    return
                if number == state.stream_break_after:
                    raise ConnectionAbortedError("injected: stream broken off")
                chunk = {
                    "id": "chatcmpl-stream",
                    "object": "chat.completion.chunk",
                    "model": model,
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
                await self._sse(send, json.dumps(chunk))
            await self._sse(send, "[DONE]")
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            state.streams_completed += 1
        finally:
            watcher.cancel()

    async def _mt_batch(self, request: dict[str, Any], send: Any) -> None:
        state = self.state
        state.mt_calls += 1
        state.requests.append(request)
        items = request.get("items") or []
        await asyncio.sleep(state.latency_s)
        if self._should_fail([str(item.get("text", "")) for item in items]):
            await self._json(send, state.fail_status, {"detail": "injected failure"})
            return
        target = request.get("target_lang", "")
        results = [
            {"index": item["index"], "translated_text": f"[{target}] {item['text']}"}
            for item in items
        ]
        await self._json(send, 200, {"results": results, "count": len(results)})

    @staticmethod
    async def _read_body(receive: Any) -> bytes:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                return b"".join(chunks)

    @staticmethod
    async def _sse(send: Any, data: str) -> None:
        body = f"data: {data}\n\n".encode()
        await send({"type": "http.response.body", "body": body, "more_body": True})

    @staticmethod
    async def _json(send: Any, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class FakeUpstream:
    """The fake server running on 127.0.0.1 in a thread. Use as a context manager.

    `url` is the server root; `openai_base_url` is `url + "/v1"`.
    """

    def __init__(self, state: FakeState | None = None) -> None:
        self.state = state or FakeState()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            FakeUpstreamApp(self.state), log_level="warning", lifespan="off", timeout_keep_alive=30
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def start(self, timeout_s: float = 10.0) -> FakeUpstream:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake upstream did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """`python -m docmill.devtools.fake_llm [--port N] [--latency S]`: serve in the foreground."""
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible and MT server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before answering")
    parser.add_argument("--chunk-delay", type=float, default=0.05, help="seconds between chunks")
    args = parser.parse_args()
    state = FakeState(latency_s=args.latency, chunk_delay_s=args.chunk_delay)
    uvicorn.run(FakeUpstreamApp(state), host=args.host, port=args.port, lifespan="off")


if __name__ == "__main__":
    main()
