"""docmill as an MCP server (official `mcp` SDK): convert, read and find documents.

The tools are written once, against the Python client (`docmill.client`), so they only
ever do what the caller's credentials allow through the HTTP routes (ownership is
checked there, by the same dependencies as for every client):

- `docmill mcp` (stdio) runs beside an MCP host and calls a running docmill server
  over HTTP with the user's API key (`DOCMILL_SERVER_URL`, `DOCMILL_API_KEY`); it may
  read local files (`path`).
- `/mcp` (streamable HTTP, stateless) on the server itself: each request carries the
  user's API key (`X-API-Key`, or `Authorization: Bearer <key or token>`); the tools call
  the server's own routes in process with those credentials. Files come inline
  (`content_base64`) or by URL, never from the server's disk.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from docmill.chunking import DEFAULT_MAX_TOKENS, Chunk
from docmill.client import ApiError, AsyncDocmill, ProcessingTask
from docmill.security import API_KEY_PREFIX

if TYPE_CHECKING:
    from fastapi import FastAPI

    from docmill.config import Settings

INSTRUCTIONS = (
    "docmill converts PDFs and images into Markdown. Use `convert` for a new file or URL "
    "(it waits for the result), `search_documents` or `list_recent_tasks` to find earlier "
    "conversions, then `get_markdown` or `get_chunks` with the task id."
)
MAX_CHARS = 200_000
IN_PROCESS_URL = "http://docmill.internal"

#: Opens a client that acts for the caller of the current tool call.
ClientFactory = Callable[[Context[Any, Any, Any]], AbstractAsyncContextManager[AsyncDocmill]]


class TaskSummary(BaseModel):
    id: str
    filename: str
    status: str
    progress: int
    total_pages: int
    engine: str
    created_at: str | None
    error_message: str | None

    @classmethod
    def of(cls, task: ProcessingTask) -> TaskSummary:
        return cls(
            id=task.id,
            filename=task.filename,
            status=task.status,
            progress=task.progress,
            total_pages=task.total_pages,
            engine=task.engine,
            created_at=task.created_at.isoformat() if task.created_at else None,
            error_message=task.error_message,
        )


class MarkdownPage(BaseModel):
    """A slice of a document's Markdown: `text` starts at `offset`; `next_offset` is where
    the next slice starts (None at the end)."""

    task_id: str
    text: str
    offset: int
    next_offset: int | None
    total_chars: int


class ConvertResult(BaseModel):
    task: TaskSummary
    markdown: MarkdownPage | None = Field(description="The first slice, once completed.")


class ChunkPage(BaseModel):
    task_id: str
    chunks: list[Chunk]
    total: int
    next_start: int | None


def _slice(task_id: str, markdown: str, offset: int, max_chars: int) -> MarkdownPage:
    end = offset + max_chars
    return MarkdownPage(
        task_id=task_id,
        text=markdown[offset:end],
        offset=offset,
        next_offset=end if end < len(markdown) else None,
        total_chars=len(markdown),
    )


def build_server(connect: ClientFactory, *, local_files: bool, max_inline_bytes: int) -> FastMCP:
    """The MCP server and its tools; `connect` gives each call a client for its caller."""
    mcp = FastMCP(
        "docmill",
        instructions=INSTRUCTIONS,
        log_level="WARNING",
        stateless_http=True,
        # Every request carries the user's credentials, which a rebinding page cannot.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        max_request_body_size=max_inline_bytes * 4 // 3 + 1024 * 1024,
    )

    @asynccontextmanager
    async def client_for(ctx: Context[Any, Any, Any]) -> AsyncIterator[AsyncDocmill]:
        try:
            async with connect(ctx) as client:
                yield client
        except ApiError as exc:
            raise ToolError(f"{exc.code}: {exc.message}") from exc

    @mcp.tool()
    async def convert(
        ctx: Context[Any, Any, Any],
        url: str | None = None,
        path: str | None = None,
        content_base64: str | None = None,
        filename: str | None = None,
        engine: str | None = None,
        force_ocr: bool = False,
        max_chars: int = Field(default=20_000, ge=1, le=MAX_CHARS),
        timeout_s: float = Field(default=600, gt=0, le=3600),
    ) -> ConvertResult:
        """Convert a PDF or image to Markdown and wait for the result (progress is
        reported per page). Give exactly one of `url` (the server fetches it),
        `content_base64` (the file itself, with `filename`) or `path` (a local file;
        only with the stdio server). Returns the task and the first `max_chars` of the
        Markdown; read further with `get_markdown`."""
        if sum(value is not None for value in (url, path, content_base64)) != 1:
            raise ToolError("Give exactly one of url, path or content_base64.")
        options: dict[str, Any] = {"engine": engine, "force_ocr": force_ocr}
        async with client_for(ctx) as client:
            if url is not None:
                task = await client.upload_url(url, **options)
            elif path is not None:
                if not local_files:
                    raise ToolError(
                        "`path` needs the stdio server (docmill mcp); send `content_base64` "
                        "or `url` instead."
                    )
                task = await client.upload(Path(path), filename=filename, **options)
            else:
                data = _decoded(content_base64 or "", max_inline_bytes)
                task = await client.upload_bytes(data, filename or "document.pdf", **options)

            async def progress(done: int, total: int) -> None:
                await ctx.report_progress(done, total or None, f"{done} of {total} pages")

            try:
                task = await client.wait(task, timeout_s=timeout_s, on_progress=progress)
            except TimeoutError as exc:
                raise ToolError(
                    f"Task {task.id} has not ended within {timeout_s:g} s; it goes on: "
                    "look again with list_recent_tasks or get_markdown."
                ) from exc
            markdown = None
            if task.status == "completed":
                markdown = _slice(task.id, await client.markdown(task), 0, max_chars)
        return ConvertResult(task=TaskSummary.of(task), markdown=markdown)

    @mcp.tool()
    async def get_markdown(
        ctx: Context[Any, Any, Any],
        task_id: str,
        offset: int = Field(default=0, ge=0),
        max_chars: int = Field(default=20_000, ge=1, le=MAX_CHARS),
    ) -> MarkdownPage:
        """The Markdown of a converted document, `max_chars` from `offset`."""
        async with client_for(ctx) as client:
            markdown = await client.markdown(task_id)
        return _slice(task_id, markdown, offset, max_chars)

    @mcp.tool()
    async def get_chunks(
        ctx: Context[Any, Any, Any],
        task_id: str,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        overlap: int = 0,
        start: int = Field(default=0, ge=0),
        limit: int = Field(default=50, ge=1, le=500),
    ) -> ChunkPage:
        """A document's chunks for retrieval: each within `max_tokens` (cl100k_base), cut
        along its headings, with heading path, pages and block boxes."""
        async with client_for(ctx) as client:
            chunks = await client.chunks(task_id, max_tokens=max_tokens, overlap=overlap)
        end = start + limit
        return ChunkPage(
            task_id=task_id,
            chunks=chunks[start:end],
            total=len(chunks),
            next_start=end if end < len(chunks) else None,
        )

    @mcp.tool()
    async def search_documents(
        ctx: Context[Any, Any, Any],
        query: str = Field(min_length=1, max_length=255),
        limit: int = Field(default=20, ge=1, le=100),
    ) -> list[TaskSummary]:
        """The caller's documents whose filename contains `query` (any case), newest first."""
        async with client_for(ctx) as client:
            return [TaskSummary.of(task) for task in await client.tasks(limit=limit, query=query)]

    @mcp.tool()
    async def list_recent_tasks(
        ctx: Context[Any, Any, Any],
        limit: int = Field(default=20, ge=1, le=100),
        status: str | None = None,
    ) -> list[TaskSummary]:
        """The caller's latest tasks, newest first (optionally of one status: pending,
        processing, completed, failed, cancelled)."""
        async with client_for(ctx) as client:
            tasks = await client.tasks(limit=limit, status=status)
        return [TaskSummary.of(task) for task in tasks]

    return mcp


def _decoded(content: str, limit: int) -> bytes:
    if len(content) > limit * 4 // 3 + 4:
        raise ToolError(f"The file is larger than {limit // (1024 * 1024)} MB; send a URL.")
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ToolError("content_base64 is not valid base64.") from exc


# -- over HTTP, inside the server ----------------------------------------------------


def caller_credentials(request: Request) -> tuple[str | None, str | None]:
    """(API key, bearer token) of an MCP request. A bearer value that looks like an API
    key is used as one (MCP hosts often only send bearer headers)."""
    api_key = request.headers.get("x-api-key", "").strip()
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    bearer = value.strip() if scheme.lower() == "bearer" else ""
    if not api_key and bearer.startswith(API_KEY_PREFIX):
        api_key, bearer = bearer, ""
    return api_key or None, bearer or None


def in_process_clients(app: FastAPI) -> ClientFactory:
    """Clients that call `app`'s own routes in process, as the caller of the MCP request."""

    @asynccontextmanager
    async def connect(ctx: Context[Any, Any, Any]) -> AsyncIterator[AsyncDocmill]:
        request = ctx.request_context.request
        assert isinstance(request, Request)
        api_key, token = caller_credentials(request)
        async with AsyncDocmill(
            IN_PROCESS_URL,
            api_key=api_key,
            token=token,
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            live_events=False,
            poll_interval_s=0.5,
        ) as client:
            yield client

    return connect


class McpEndpoint:
    """`/mcp`: refuses a request without valid credentials (401, the error envelope),
    then hands it to the SDK's streamable HTTP transport."""

    def __init__(self, server: FastMCP) -> None:
        server.streamable_http_app()  # creates the session manager
        self.server = server

    def run(self) -> AbstractAsyncContextManager[None]:
        """The transport's task group: entered by the app's lifespan."""
        return self.server.session_manager.run()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from docmill.api.deps import resolve_user
        from docmill.api.envelope import error_response
        from docmill.errors import NotAuthenticated

        request = Request(scope, receive)
        api_key, token = caller_credentials(request)
        try:
            user = await resolve_user(request.app.state.services, token, api_key)
            if user is None:
                raise NotAuthenticated("Send your API key (X-API-Key or Authorization: Bearer).")
        except NotAuthenticated as exc:
            await error_response(401, exc.code, exc.message, exc.headers)(scope, receive, send)
            return
        await self.server.session_manager.handle_request(scope, receive, send)


def http_endpoint(app: FastAPI, settings: Settings) -> McpEndpoint:
    """The `/mcp` endpoint of `app`."""
    server = build_server(
        in_process_clients(app),
        local_files=False,
        max_inline_bytes=settings.mcp_max_inline_mb * 1024 * 1024,
    )
    return McpEndpoint(server)


# -- over stdio, beside an MCP host --------------------------------------------------


async def run_stdio(server_url: str, api_key: str, *, max_inline_mb: int) -> None:
    """Serve MCP on stdin/stdout, calling the docmill server at `server_url`."""
    client = AsyncDocmill(server_url, api_key=api_key)

    @asynccontextmanager
    async def connect(_: Context[Any, Any, Any]) -> AsyncIterator[AsyncDocmill]:
        yield client

    server = build_server(connect, local_files=True, max_inline_bytes=max_inline_mb * 1024 * 1024)
    try:
        await server.run_stdio_async()
    finally:
        await client.aclose()
