"""Domain exceptions. Each carries its HTTP status and a stable code; the API maps them once."""

from __future__ import annotations


class DocmillError(Exception):
    """Base of every error a person should read. `message` says what happened."""

    status_code = 400
    code = "bad_request"
    headers: dict[str, str] | None = None

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class NotAuthenticated(DocmillError):
    status_code = 401
    code = "not_authenticated"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(DocmillError):
    status_code = 403
    code = "forbidden"


class NotFound(DocmillError):
    status_code = 404
    code = "not_found"


class TaskNotFound(NotFound):
    code = "task_not_found"

    def __init__(self, task_id: str = "") -> None:
        super().__init__("Task not found.")
        self.task_id = task_id


class Conflict(DocmillError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(DocmillError):
    status_code = 413
    code = "file_too_large"

    @classmethod
    def over(cls, limit_bytes: int) -> PayloadTooLarge:
        return cls(f"The file is larger than the limit of {limit_bytes // (1024 * 1024)} MB.")


class UnsupportedFile(DocmillError):
    status_code = 415
    code = "unsupported_file_type"


class InvalidFile(DocmillError):
    status_code = 422
    code = "invalid_file"


class InvalidInput(DocmillError):
    status_code = 422
    code = "invalid_input"


class UnsafeURL(DocmillError):
    status_code = 400
    code = "unsafe_url"


class UpstreamFailed(DocmillError):
    status_code = 502
    code = "upstream_failed"


class ServiceUnavailable(DocmillError):
    status_code = 503
    code = "service_unavailable"
    headers = {"Retry-After": "30"}
