"""Translation routes: text and batches (`/api/mt/...`), and whole documents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator

from docmill.api.deps import CurrentUser, LanguageDep, OwnedTask, ReadableTask
from docmill.api.envelope import ok
from docmill.pipeline.document_translation import translation_view
from docmill.translation.base import check_lang
from docmill.translation.batch import BatchItem

router = APIRouter(tags=["translation"])

MAX_TEXT_CHARS = 50_000
MAX_BATCH_ITEMS = 10_000
MAX_BATCH_CHARS = 2_000_000


class TranslateRequest(BaseModel):
    text: str = Field(max_length=MAX_TEXT_CHARS)
    source_lang: str = "auto"
    target_lang: str
    engine: str | None = None


class BatchItemIn(BaseModel):
    index: int
    text: str = Field(max_length=MAX_TEXT_CHARS)


class BatchRequest(BaseModel):
    items: list[BatchItemIn] = Field(max_length=MAX_BATCH_ITEMS)
    source_lang: str = "auto"
    target_lang: str
    engine: str | None = None

    @model_validator(mode="after")
    def bounded(self) -> BatchRequest:
        total = sum(len(item.text) for item in self.items)
        if total > MAX_BATCH_CHARS:
            raise ValueError(f"the batch holds {total} characters; the limit is {MAX_BATCH_CHARS}")
        return self


class DocumentTranslateRequest(BaseModel):
    target_lang: str
    source_lang: str = "auto"
    engine: str | None = None


def _langs(source_lang: str, target_lang: str) -> None:
    check_lang(source_lang, "source_lang", allow_auto=True)
    check_lang(target_lang, "target_lang")


@router.post("/api/mt/translate")
async def translate_text(
    body: TranslateRequest, _: CurrentUser, language: LanguageDep
) -> dict[str, Any]:
    _langs(body.source_lang, body.target_lang)
    service = language.engines.service(body.engine)
    text = await service.translate_text(body.text, body.source_lang, body.target_lang)
    return ok(
        {
            "translated_text": text,
            "source_lang": body.source_lang,
            "target_lang": body.target_lang,
            "engine": service.translator.name,
        }
    )


@router.post("/api/mt/translate/batch")
@router.post("/api/translate/batch")
async def translate_batch(
    body: BatchRequest, _: CurrentUser, language: LanguageDep
) -> dict[str, Any]:
    _langs(body.source_lang, body.target_lang)
    service = language.engines.service(body.engine)
    items = [BatchItem(item.index, item.text) for item in body.items]
    results = await service.translate_batch(items, body.source_lang, body.target_lang)
    views = []
    for result in results:
        view: dict[str, Any] = {"index": result.index, "translated_text": result.translated_text}
        if result.error is not None:
            view["error"] = result.error
        views.append(view)
    failed = sum(1 for result in results if result.error is not None)
    message = f"{len(results) - failed} translated, {failed} failed." if failed else "OK"
    return ok(
        {
            "results": views,
            "count": len(views),
            "engine": service.translator.name,
            "timestamp": datetime.now(UTC).isoformat(),
        },
        message,
    )


@router.get("/api/mt/languages")
async def languages(
    _: CurrentUser, language: LanguageDep, engine: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    service = language.engines.service(engine)
    pairs = await service.translator.languages()
    return ok(
        {
            "engine": service.translator.name,
            "pairs": [{"source": p.source, "target": p.target} for p in pairs],
        }
    )


@router.post("/api/tasks/{task_id}/translate")
async def translate_document(
    task: OwnedTask, body: DocumentTranslateRequest, language: LanguageDep
) -> JSONResponse:
    row = await language.documents.start(task, body.target_lang, body.source_lang, body.engine)
    return JSONResponse(ok(translation_view(row), "Translation queued."), status_code=202)


@router.get("/api/tasks/{task_id}/translation")
async def document_translation(
    task: ReadableTask,
    language: LanguageDep,
    lang: Annotated[str, Query(max_length=16)],
) -> dict[str, Any]:
    return ok(await language.documents.view(task, lang))


@router.get("/api/tasks/{task_id}/translations")
async def document_translations(task: ReadableTask, language: LanguageDep) -> dict[str, Any]:
    return ok(await language.documents.list(task))
