"""The MCP server, driven by the SDK's own client: over streamable HTTP at /mcp and over
stdio (`docmill mcp`). Each caller sees only their own documents."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from tests.conftest import register, upload_bytes, wait_for_status
from tests.support.documents import text_pdf
from tests.support.server import LiveServer

TOOLS = {"convert", "get_markdown", "get_chunks", "search_documents", "list_recent_tasks"}
SECRET_PDF = text_pdf([["Alpha's confidential findings."]], title="Alpha Report")
NOTES_PDF = text_pdf([[f"Beta note on page {n}."] for n in range(1, 4)])


async def _user_with_key(server: LiveServer) -> tuple[httpx.AsyncClient, str]:
    client = server.client()
    client.headers["Authorization"] = f"Bearer {await register(client)}"
    response = await client.post("/api/auth/api-keys", json={"name": "mcp"})
    assert response.status_code == 201, response.text
    return client, str(response.json()["data"]["key"])


@asynccontextmanager
async def http_session(server: LiveServer, headers: dict[str, str]) -> AsyncIterator[ClientSession]:
    async with (
        httpx.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(f"{server.base_url}/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def _result(result: CallToolResult) -> Any:
    assert not result.isError, result.content
    structured = result.structuredContent
    assert structured is not None
    return structured.get("result", structured)


async def _seed_alpha(server: LiveServer) -> tuple[str, str]:
    """User A with a converted document; (A's API key, the task id)."""
    a, key = await _user_with_key(server)
    try:
        task_id = (await upload_bytes(a, SECRET_PDF, filename="alpha-report.pdf")).json()["data"][
            "id"
        ]
        await wait_for_status(a, task_id, ("completed",))
    finally:
        await a.aclose()
    return key, task_id


async def test_http_mcp_tools_act_for_the_caller_only(server: LiveServer) -> None:
    key_a, alpha_id = await _seed_alpha(server)
    b, key_b = await _user_with_key(server)
    await b.aclose()

    async with http_session(server, {"X-API-Key": key_a}) as session:
        assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS
        progress: list[float] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append(done)

        converted = _result(
            await session.call_tool(
                "convert",
                {
                    "content_base64": base64.b64encode(NOTES_PDF).decode(),
                    "filename": "beta-notes.pdf",
                    "engine": "slow",
                },
                progress_callback=on_progress,
            )
        )
        assert converted["task"]["status"] == "completed"
        assert converted["task"]["filename"] == "beta-notes.pdf"
        assert "Beta note on page 3." in converted["markdown"]["text"]
        assert progress, "progress was reported while converting"

        markdown = _result(await session.call_tool("get_markdown", {"task_id": alpha_id}))
        assert "confidential findings" in markdown["text"]
        sliced = _result(
            await session.call_tool("get_markdown", {"task_id": alpha_id, "max_chars": 5})
        )
        assert sliced["text"] == markdown["text"][:5] and sliced["next_offset"] == 5
        chunks = _result(await session.call_tool("get_chunks", {"task_id": alpha_id}))
        assert chunks["total"] == 1 and "Alpha Report" in chunks["chunks"][0]["text"]
        found = _result(await session.call_tool("search_documents", {"query": "ALPHA"}))
        assert [task["id"] for task in found] == [alpha_id]
        recent = _result(await session.call_tool("list_recent_tasks", {}))
        assert [task["filename"] for task in recent] == ["beta-notes.pdf", "alpha-report.pdf"]
        refused = await session.call_tool("convert", {"path": "/etc/hostname"})
        assert refused.isError and "stdio" in refused.content[0].text  # type: ignore[union-attr]

    async with http_session(server, {"Authorization": f"Bearer {key_b}"}) as session:
        assert _result(await session.call_tool("search_documents", {"query": "alpha"})) == []
        assert _result(await session.call_tool("list_recent_tasks", {})) == []
        for tool, arguments in (
            ("get_markdown", {"task_id": alpha_id}),
            ("get_chunks", {"task_id": alpha_id}),
        ):
            denied = await session.call_tool(tool, arguments)
            assert denied.isError
            assert "task_not_found" in denied.content[0].text  # type: ignore[union-attr]

    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        for headers in ({}, {"X-API-Key": "dm_not-a-key"}):
            response = await anonymous.post("/mcp", json={}, headers=headers)
            assert response.status_code == 401, response.text
            assert response.json()["success"] is False


async def test_stdio_mcp_talks_to_the_server_with_a_key(server: LiveServer, tmp_path: Path) -> None:
    _, alpha_id = await _seed_alpha(server)
    b, key_b = await _user_with_key(server)
    await b.aclose()
    document = tmp_path / "gamma-memo.pdf"
    document.write_bytes(text_pdf([["Gamma memo, read from a local path."]]))
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "docmill.cli", "mcp"],
        env={"DOCMILL_SERVER_URL": server.base_url, "DOCMILL_API_KEY": key_b},
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS
        converted = _result(await session.call_tool("convert", {"path": str(document)}))
        assert converted["task"]["status"] == "completed"
        assert "Gamma memo" in converted["markdown"]["text"]
        found = _result(await session.call_tool("search_documents", {"query": "memo"}))
        assert [task["filename"] for task in found] == ["gamma-memo.pdf"]
        assert _result(await session.call_tool("search_documents", {"query": "alpha"})) == []
        denied = await session.call_tool("get_markdown", {"task_id": alpha_id})
        assert denied.isError and "task_not_found" in json.dumps(denied.model_dump())
