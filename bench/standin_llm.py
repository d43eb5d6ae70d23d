"""A stand-in for an OpenAI-compatible LLM with a fixed latency per call, on 127.0.0.1 in
a background thread (stdlib HTTP server, one thread per request). It "translates" by
prefixing `[xx] `: a user message that is a JSON array of strings gets a JSON array back,
as docmill's LLM translator asks for."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "bench-llm"


@dataclass
class StandInState:
    latency_s: float
    calls: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.calls = self.max_in_flight = 0


def answer(text: str) -> str:
    """The stand-in's reply to one user message."""
    try:
        items = json.loads(text)
    except ValueError:
        return f"[xx] {text}"
    if isinstance(items, list) and all(isinstance(item, str) for item in items):
        return json.dumps([f"[xx] {item}" for item in items], ensure_ascii=False)
    return f"[xx] {text}"


class _Handler(BaseHTTPRequestHandler):
    state: StandInState  # set on the subclass made per server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return None

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": "not found"}})
            return
        state = self.state
        with state.lock:
            state.calls += 1
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            time.sleep(state.latency_s)
        finally:
            with state.lock:
                state.in_flight -= 1
        users = [m for m in request.get("messages", []) if m.get("role") == "user"]
        content = answer(str(users[-1].get("content", ""))) if users else ""
        self._send(
            200,
            {
                "id": f"chatcmpl-{state.calls}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.get("model", MODEL),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )


@dataclass
class StandInLLM:
    base_url: str  # ends in /v1
    state: StandInState


@contextmanager
def standin_llm(latency_s: float) -> Iterator[StandInLLM]:
    """Serve the stand-in on a free port until exit."""
    state = StandInState(latency_s)
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StandInLLM(f"http://127.0.0.1:{server.server_address[1]}/v1", state)
    finally:
        server.shutdown()
        server.server_close()
