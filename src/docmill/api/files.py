"""Sending files from disk: Starlette's FileResponse (Range, If-Range, HEAD, ETag),
plus the If-None-Match → 304 it leaves to static-file servers."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import FileResponse

from docmill.errors import NotFound

KEPT_ON_304 = ("etag", "cache-control", "last-modified", "content-location", "vary")


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, `*` included)."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


async def send_file(
    request: Request, path: Path, *, missing: str = "The file is missing.", **kwargs: Any
) -> Response:
    """`path` as a FileResponse, or 304 when the client already has this version.
    Raises NotFound when the file does not exist."""
    try:
        stat = await asyncio.to_thread(os.stat, path)
    except FileNotFoundError as exc:
        raise NotFound(missing, code="file_missing") from exc
    response = FileResponse(path, stat_result=stat, **kwargs)
    if etag_matches(request.headers.get("if-none-match"), response.headers["etag"]):
        headers = {k: v for k, v in response.headers.items() if k in KEPT_ON_304}
        return Response(status_code=304, headers=headers)
    return response
