"""Uploads: a streamed multipart file, or a file fetched from a URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse

from docmill.api.deps import CurrentUser, ServicesDep
from docmill.api.envelope import ok
from docmill.engines.base import ConvertOptions
from docmill.errors import InvalidInput, PayloadTooLarge
from docmill.pipeline.intake import MULTIPART_OVERHEAD, ReceivedFile, receive_multipart
from docmill.pipeline.urlfetch import AddressPolicy, fetch_to_file
from docmill.presenters import task_view
from docmill.services import Services
from docmill.store.tasks import COMPLETED

router = APIRouter(prefix="/api", tags=["upload"])

TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off", ""}

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "is_public": {"type": "string", "enum": ["true", "false"]},
                        "engine": {"type": "string", "example": "local"},
                        "lang": {"type": "string"},
                        "force_ocr": {"type": "string", "enum": ["true", "false"]},
                        "callback_url": {"type": "string", "format": "uri"},
                    },
                }
            }
        },
    }
}


def _flag(fields: dict[str, str], name: str) -> bool:
    value = fields.get(name, "").strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise InvalidInput(f"'{name}' must be true or false.")


@dataclass(frozen=True)
class Submission:
    engine: str
    options: ConvertOptions
    is_public: bool
    callback_url: str | None


async def _submission(services: Services, user_id: int, fields: dict[str, str]) -> Submission:
    """The upload's options, checked. Raises InvalidInput or UnsafeURL (callback URL)."""
    engine = fields.get("engine", "").strip() or services.settings.default_engine
    lang = fields.get("lang", "").strip()[:16] or None
    options = ConvertOptions(
        force_ocr=_flag(fields, "force_ocr"),
        lang=lang,
        max_pages=services.settings.max_pages,
        max_image_pixels=services.settings.max_image_pixels,
    )
    is_public = _flag(fields, "is_public")
    callback = fields.get("callback_url", "").strip()
    callback_url = await services.webhooks.check_callback(user_id, callback) if callback else None
    return Submission(engine, options, is_public, callback_url)


async def _accept(
    services: Services, user_id: int, received: ReceivedFile, submission: Submission
) -> JSONResponse:
    task = await services.tasks.submit(
        user_id,
        received,
        engine=submission.engine,
        options=submission.options,
        is_public=submission.is_public,
        callback_url=submission.callback_url,
    )
    cached = task.status == COMPLETED
    message = "Served from the stored result." if cached else "Queued for processing."
    return JSONResponse(ok(task_view(task), message), status_code=200 if cached else 202)


@router.post("/upload", status_code=202, openapi_extra=UPLOAD_BODY)
async def upload(request: Request, user: CurrentUser, services: ServicesDep) -> JSONResponse:
    limit = services.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise PayloadTooLarge.over(limit)
    upload = await receive_multipart(
        request.stream(),
        request.headers.get("content-type", ""),
        services.blobs.new_temp_path(".upload"),
        limit,
    )
    assert upload.file is not None
    try:
        submission = await _submission(services, user.id, upload.fields)
    except BaseException:
        await upload.file.discard()
        raise
    return await _accept(services, user.id, upload.file, submission)


@router.post("/upload-url", status_code=202)
async def upload_url(
    user: CurrentUser,
    services: ServicesDep,
    pdf_url: Annotated[str, Form(min_length=1, max_length=2048)],
    is_public: Annotated[str, Form()] = "false",
    engine: Annotated[str, Form()] = "",
    lang: Annotated[str, Form()] = "",
    force_ocr: Annotated[str, Form()] = "false",
    callback_url: Annotated[str, Form(max_length=2048)] = "",
) -> JSONResponse:
    fields: dict[str, Any] = {
        "is_public": is_public,
        "engine": engine,
        "lang": lang,
        "force_ocr": force_ocr,
        "callback_url": callback_url,
    }
    submission = await _submission(services, user.id, fields)  # before fetching anything
    settings = services.settings
    received = await fetch_to_file(
        pdf_url.strip(),
        services.blobs.new_temp_path(".download"),
        limit=settings.max_upload_bytes,
        policy=AddressPolicy(settings.upload_url_allow_hosts),
        timeout_s=settings.upload_url_timeout_s,
        max_redirects=settings.upload_url_max_redirects,
    )
    return await _accept(services, user.id, received, submission)
