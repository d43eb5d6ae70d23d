"""Translation routes: text and batches (`/api/mt/...`, unwrapped as MonkeyOCR-WebApp
clients read them), and whole documents (in the envelope)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator

from docmill.api.deps import CurrentUser, LanguageDep, OwnedTask, ReadableTask
from docmill.api.envelope import ok
from docmill.api.schemas import (
    BatchAnswer,
    BatchResultOut,
    LanguagesAnswer,
    TranslationAnswer,
    TranslationFeatures,
    TranslationHealth,
)
from docmill.pipeline.document_translation import translation_view
from docmill.translation.base import check_lang
from docmill.translation.batch import BatchItem
from docmill.translation.languages import codes_of, languages_view

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
) -> TranslationAnswer:
    _langs(body.source_lang, body.target_lang)
    service = language.engines.service(body.engine)
    text = await service.translate_text(body.text, body.source_lang, body.target_lang)
    return TranslationAnswer(
        translated_text=text,
        source_lang=body.source_lang,
        target_lang=body.target_lang,
        engine=service.translator.name,
    )


@router.post("/api/mt/translate/batch")
@router.post("/api/translate/batch")
async def translate_batch(body: BatchRequest, _: CurrentUser, language: LanguageDep) -> BatchAnswer:
    """One result per item, in request order; a failed item has `translated_text: null`
    and its `error`."""
    _langs(body.source_lang, body.target_lang)
    service = language.engines.service(body.engine)
    items = [BatchItem(item.index, item.text) for item in body.items]
    results = await service.translate_batch(items, body.source_lang, body.target_lang)
    return BatchAnswer(
        results=[
            BatchResultOut(index=r.index, translated_text=r.translated_text, error=r.error)
            for r in results
        ],
        source_lang=body.source_lang,
        target_lang=body.target_lang,
        count=len(results),
        failed=sum(1 for result in results if result.error is not None),
        engine=service.translator.name,
        timestamp=datetime.now(UTC).isoformat(),
    )


@router.get("/api/mt/languages")
async def languages(
    _: CurrentUser, language: LanguageDep, engine: Annotated[str | None, Query()] = None
) -> LanguagesAnswer:
    service = language.engines.service(engine)
    pairs = await service.translator.languages()
    return LanguagesAnswer.model_validate(
        languages_view(pairs) | {"engine": service.translator.name}
    )


@router.get("/api/mt/health")
async def translation_health(
    language: LanguageDep, engine: Annotated[str | None, Query(max_length=16)] = None
) -> TranslationHealth:
    """Whether text translation can be used now (no login needed; names no upstream)."""
    status = await language.engines.status(engine)
    return TranslationHealth(
        status="healthy" if status.available else "degraded",
        service_available=status.available,
        supported_languages=codes_of(status.pairs),
        features=TranslationFeatures(
            single_translation=status.available,
            batch_translation=status.available,
            max_batch_size=MAX_BATCH_ITEMS,
        ),
        engine=status.engine,
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
