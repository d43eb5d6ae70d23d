"""Chunks of a document for retrieval (RAG): `GET /api/tasks/{id}/chunks`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from docmill import tokens
from docmill.api.deps import ReadableTask, ServicesDep
from docmill.api.envelope import ok
from docmill.api.schemas import ChunkList, Envelope
from docmill.chunking import DEFAULT_MAX_TOKENS, DEFAULT_OVERLAP, MAX_MAX_TOKENS, MIN_MAX_TOKENS

router = APIRouter(tags=["tasks"])


@router.get("/api/tasks/{task_id}/chunks", response_model=Envelope[ChunkList])
async def task_chunks(
    task: ReadableTask,
    services: ServicesDep,
    max_tokens: Annotated[int, Query(ge=MIN_MAX_TOKENS, le=MAX_MAX_TOKENS)] = DEFAULT_MAX_TOKENS,
    overlap: Annotated[int, Query(ge=0, le=MAX_MAX_TOKENS // 2)] = DEFAULT_OVERLAP,
) -> dict[str, Any]:
    chunks = await services.results.chunks(task, max_tokens, overlap)
    return ok(
        ChunkList(
            task_id=task.id,
            tokenizer=tokens.NAME,
            max_tokens=max_tokens,
            overlap=overlap,
            chunks=chunks,
        )
    )
