"""The Python client of a docmill server: `AsyncDocmill` (asyncio) and `Docmill` (blocking).

```python
from docmill.client import Docmill

with Docmill("http://127.0.0.1:8000", api_key="dm_...") as docmill:
    task = docmill.wait(docmill.upload("report.pdf"))
    print(docmill.markdown(task))
```

Answers are typed (pydantic models of `docmill.api.schemas`); an error answer raises
`ApiError` with the server's code. Every call has an overall deadline (`timeout_s`;
`wait` and `download` take their own). `wait` follows the task over the WebSocket
`/api/ws` and falls back to polling `/status` when the socket cannot be used.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, TypedDict, TypeVar, Unpack
from urllib.parse import quote

import httpx
import websockets
from pydantic import TypeAdapter

from docmill.api.schemas import BlockView, ChunkList, ProcessingTask
from docmill.chunking import Chunk
from docmill.signatures import verify_webhook

__all__ = [
    "ApiError",
    "AsyncDocmill",
    "BlockView",
    "Chunk",
    "Docmill",
    "ProcessingTask",
    "Task",
    "verify_webhook",
]

logger = logging.getLogger(__name__)

Task = ProcessingTask
TaskRef = ProcessingTask | str
#: Called with (pages done, total pages) while a task runs; may be a coroutine function.
ProgressCallback = Callable[[int, int], Awaitable[None] | None]
T = TypeVar("T")

CHUNK_BYTES = 256 * 1024
_BLOCKS = TypeAdapter(list[BlockView])
_TASKS = TypeAdapter(list[ProcessingTask])


class UploadOptions(TypedDict, total=False):
    """Options of an upload (all optional; the server's defaults apply)."""

    engine: str | None
    force_ocr: bool
    lang: str | None
    is_public: bool
    callback_url: str | None


class ApiError(Exception):
    """An error answer of the server (or a failure to reach it)."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message


def _task_id(task: TaskRef) -> str:
    return task if isinstance(task, str) else task.id


def _data(response: httpx.Response) -> Any:
    """The `data` of an envelope. Raises ApiError for an error answer."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict) and "data" in body:
        return body["data"]
    if isinstance(body, dict) and body.get("error"):
        raise ApiError(response.status_code, str(body["error"]), str(body.get("message", "")))
    raise ApiError(response.status_code, f"http_{response.status_code}", response.text[:200])


async def _report(on_progress: ProgressCallback | None, done: int, total: int) -> None:
    if on_progress is not None:
        result = on_progress(done, total)
        if inspect.isawaitable(result):
            await result


class _MultipartFile:
    """A multipart/form-data body with fields and one file: bytes, or a path read in a
    thread chunk by chunk (the event loop never waits on the disk; memory stays flat)."""

    def __init__(self, fields: dict[str, str], source: Path | bytes, filename: str) -> None:
        self.boundary = uuid.uuid4().hex
        self.source = source
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
            for name, value in fields.items()
        )
        safe = quote(filename, safe=" ()[]-_.,;!@#$&+=~'")
        self.head = (
            head
            + (
                f"--{self.boundary}\r\n"
                f'Content-Disposition: form-data; name="file"; filename="{safe}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
        )
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()

    def headers(self, size: int) -> dict[str, str]:
        return {
            "Content-Type": f"multipart/form-data; boundary={self.boundary}",
            "Content-Length": str(len(self.head) + size + len(self.tail)),
        }

    async def stream(self) -> AsyncIterator[bytes]:
        yield self.head
        if isinstance(self.source, bytes):
            yield self.source
            yield self.tail
            return
        handle = await asyncio.to_thread(self.source.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)
        yield self.tail


class AsyncDocmill:
    """A docmill server, called with an API key (or a bearer token).

    `transport` replaces the network (e.g. `httpx.ASGITransport(app)` in process; the
    WebSocket is then not used: set `live_events=False`)."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout_s: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        live_events: bool = True,
        poll_interval_s: float = 1.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.live_events = live_events
        self.poll_interval_s = poll_interval_s
        self.auth_headers: dict[str, str] = {}
        if api_key:
            self.auth_headers["X-API-Key"] = api_key
        if token:
            self.auth_headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=self.auth_headers,
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            transport=transport,
        )

    async def __aenter__(self) -> AsyncDocmill:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request within the overall deadline; the envelope's data."""
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self._http.request(method, path, **kwargs)
        except TimeoutError as exc:
            raise ApiError(0, "timeout", f"No answer within {self.timeout_s:g} s.") from exc
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", f"{type(exc).__name__}: {exc}") from exc
        return _data(response)

    # -- submitting ----------------------------------------------------------------

    async def upload(
        self,
        path: str | os.PathLike[str],
        *,
        filename: str | None = None,
        **options: Unpack[UploadOptions],
    ) -> ProcessingTask:
        """Upload a file (streamed from disk); the new task (completed at once when the
        server had the result already)."""
        file = Path(path)
        size = (await asyncio.to_thread(file.stat)).st_size
        body = _MultipartFile(_fields(options), file, filename or file.name)
        return await self._upload(body, size)

    async def upload_bytes(
        self, data: bytes, filename: str, **options: Unpack[UploadOptions]
    ) -> ProcessingTask:
        """Upload a file held in memory; the new task."""
        return await self._upload(_MultipartFile(_fields(options), data, filename), len(data))

    async def _upload(self, body: _MultipartFile, size: int) -> ProcessingTask:
        data = await self._call(
            "POST", "/api/upload", content=body.stream(), headers=body.headers(size)
        )
        return ProcessingTask.model_validate(data)

    async def upload_url(self, url: str, **options: Unpack[UploadOptions]) -> ProcessingTask:
        """Have the server fetch `url`; the new task."""
        fields = _fields(options) | {"pdf_url": url}
        return ProcessingTask.model_validate(
            await self._call("POST", "/api/upload-url", data=fields)
        )

    # -- following -----------------------------------------------------------------

    async def task(self, task: TaskRef) -> ProcessingTask:
        """The task as it is now."""
        data = await self._call("GET", f"/api/tasks/{_task_id(task)}/status")
        return ProcessingTask.model_validate(data)

    async def tasks(
        self, *, limit: int = 20, query: str | None = None, status: str | None = None
    ) -> list[ProcessingTask]:
        """The caller's tasks, newest first; `query` matches filenames."""
        params: dict[str, str | int] = {"limit": limit}
        if query:
            params["q"] = query
        if status:
            params["status"] = status
        return _TASKS.validate_python(await self._call("GET", "/api/tasks", params=params))

    async def wait(
        self,
        task: TaskRef,
        *,
        timeout_s: float = 600.0,
        on_progress: ProgressCallback | None = None,
    ) -> ProcessingTask:
        """The task once it has ended (completed, failed or cancelled). Follows the
        WebSocket; polls when it cannot. Raises TimeoutError after `timeout_s`."""
        task_id = _task_id(task)
        async with asyncio.timeout(timeout_s):
            if self.live_events:
                try:
                    return await self._wait_live(task_id, on_progress)
                except (OSError, websockets.exceptions.WebSocketException) as exc:
                    logger.info("live events unavailable (%s); polling instead", exc)
            return await self._wait_polling(task_id, on_progress)

    async def _wait_live(
        self, task_id: str, on_progress: ProgressCallback | None
    ) -> ProcessingTask:
        url = "ws" + self.base_url.removeprefix("http") + "/api/ws"
        async with websockets.connect(
            url, additional_headers=self.auth_headers, open_timeout=min(10.0, self.timeout_s)
        ) as socket:
            # Read after subscribing, so an end that came before is not missed.
            current = await self.task(task_id)
            while not current.finished:
                await _report(on_progress, current.pages_done, current.total_pages)
                try:
                    raw = await asyncio.wait_for(socket.recv(), timeout=10 * self.poll_interval_s)
                except TimeoutError:  # quiet for long: make sure nothing was missed
                    current = await self.task(task_id)
                    continue
                event = json.loads(raw)
                kind = event.get("type")
                if kind == "task.progress" and event.get("task_id") == task_id:
                    await _report(on_progress, event["pages_done"], event["total_pages"])
                elif kind == "task.updated" and event.get("task", {}).get("id") == task_id:
                    current = ProcessingTask.model_validate(event["task"])
                elif kind == "task.deleted" and event.get("task_id") == task_id:
                    raise ApiError(404, "task_not_found", "The task was deleted.")
            return current

    async def _wait_polling(
        self, task_id: str, on_progress: ProgressCallback | None
    ) -> ProcessingTask:
        while True:
            current = await self.task(task_id)
            if current.finished:
                return current
            await _report(on_progress, current.pages_done, current.total_pages)
            await asyncio.sleep(self.poll_interval_s)

    # -- results -------------------------------------------------------------------

    async def markdown(self, task: TaskRef) -> str:
        """The document's Markdown (image links are signed URLs of the server)."""
        data = await self._call("GET", f"/api/tasks/{_task_id(task)}/markdown")
        return str(data["markdown_content"])

    async def blocks(self, task: TaskRef) -> list[BlockView]:
        data = await self._call("GET", f"/api/tasks/{_task_id(task)}/blocks")
        return _BLOCKS.validate_python(data["preproc_blocks"])

    async def chunks(
        self, task: TaskRef, *, max_tokens: int = 512, overlap: int = 0
    ) -> list[Chunk]:
        """Chunks for retrieval, each within `max_tokens` (see the README)."""
        data = await self._call(
            "GET",
            f"/api/tasks/{_task_id(task)}/chunks",
            params={"max_tokens": max_tokens, "overlap": overlap},
        )
        return ChunkList.model_validate(data).chunks

    async def download(
        self, task: TaskRef, path: str | os.PathLike[str], *, timeout_s: float = 600.0
    ) -> Path:
        """Save the result ZIP to `path` (streamed; written beside it, then renamed)."""
        target = Path(path)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            async with asyncio.timeout(timeout_s):
                url = f"/api/download/{_task_id(task)}"
                async with self._http.stream("GET", url) as response:
                    if not response.is_success:
                        await response.aread()
                        _data(response)
                    handle = await asyncio.to_thread(partial.open, "wb")
                    try:
                        async for chunk in response.aiter_bytes(CHUNK_BYTES):
                            await asyncio.to_thread(handle.write, chunk)
                    finally:
                        await asyncio.to_thread(handle.close)
            await asyncio.to_thread(partial.replace, target)
        except TimeoutError as exc:
            raise ApiError(0, "timeout", f"The download took longer than {timeout_s:g} s.") from exc
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", f"{type(exc).__name__}: {exc}") from exc
        finally:
            await asyncio.to_thread(partial.unlink, True)
        return target


def _fields(options: UploadOptions) -> dict[str, str]:
    """Upload options as form fields (flags as true/false; unset ones left out)."""
    fields: dict[str, str] = {}
    for name, value in options.items():
        if isinstance(value, bool):
            fields[name] = str(value).lower()
        elif value:
            fields[name] = str(value)
    return fields


class Docmill:
    """The blocking client: the same calls as AsyncDocmill, run on a private event loop.
    Use it from plain (non-async) code."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", **options: Any) -> None:
        self._runner = asyncio.Runner()
        self._client = AsyncDocmill(base_url, **options)

    def __enter__(self) -> Docmill:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._run(self._client.aclose())
        self._runner.close()

    def _run(self, call: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(call)

    def upload(self, path: str | os.PathLike[str], **options: Any) -> ProcessingTask:
        return self._run(self._client.upload(path, **options))

    def upload_url(self, url: str, **options: Any) -> ProcessingTask:
        return self._run(self._client.upload_url(url, **options))

    def task(self, task: TaskRef) -> ProcessingTask:
        return self._run(self._client.task(task))

    def tasks(self, **options: Any) -> list[ProcessingTask]:
        return self._run(self._client.tasks(**options))

    def wait(self, task: TaskRef, **options: Any) -> ProcessingTask:
        return self._run(self._client.wait(task, **options))

    def markdown(self, task: TaskRef) -> str:
        return self._run(self._client.markdown(task))

    def blocks(self, task: TaskRef) -> list[BlockView]:
        return self._run(self._client.blocks(task))

    def chunks(self, task: TaskRef, **options: Any) -> list[Chunk]:
        return self._run(self._client.chunks(task, **options))

    def download(self, task: TaskRef, path: str | os.PathLike[str], **options: Any) -> Path:
        return self._run(self._client.download(task, path, **options))
