"""The one settings object. Every value comes from `DOCMILL_*` variables or `.env`."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from docmill.engines.office import OfficeSettings

CommaList = Annotated[list[str], NoDecode]


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOCMILL_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Path("./data")
    database_url: str | None = None
    secret_key: str | None = None

    # Uploads
    max_upload_mb: int = 200
    max_pages: int = 2000
    max_image_pixels: int = 120_000_000
    upload_url_timeout_s: float = 30.0
    upload_url_max_redirects: int = 5
    upload_url_allow_hosts: CommaList = Field(default_factory=list)

    # Jobs
    job_runner: Literal["local"] = "local"  # the distributed (Celery) runner is not built yet
    job_concurrency: int = 2
    engine_workers: int = 2
    job_heartbeat_s: float = 10.0
    job_lease_s: float = 60.0
    job_sweep_s: float = 5.0
    default_engine: str = "local"
    extra_engines: CommaList = Field(default_factory=list)

    # Accounts
    registration: Literal["open", "closed"] = "open"
    token_ttl_minutes: int = 60 * 24
    media_url_ttl_s: int = 3600 * 24

    # HTTP
    cors_origins: CommaList = Field(default_factory=list)

    # Local engine (embedded OCR)
    local_ocr_threads: int = 0  # onnxruntime threads per worker; 0 = onnxruntime decides
    local_render_dpi: int = 200  # pages without a text layer are rendered at this resolution
    local_max_render_pixels: int = 8_000_000  # upper bound for one rendered page

    # Office input: LibreOffice headless turns DOCX/XLSX/PPTX/DOC/XLS/PPT into PDF first.
    office_soffice: str = "soffice"  # program name or path; Office input is off without it
    office_timeout_s: float = 120.0  # one conversion; the process group is killed after it
    office_max_memory_mb: int = 2048  # address-space limit of LibreOffice (0 = none)
    office_max_unpacked_mb: int = 500  # OOXML packages: total uncompressed size
    office_max_entries: int = 10_000
    office_max_ratio: int = 100  # uncompressed / compressed, per entry larger than 1 MiB

    # HTML, Markdown and e-mail input (parsed natively, no OCR)
    max_markup_mb: int = 25  # larger HTML, Markdown or e-mail files are refused
    email_max_attachments: int = 20  # attachments of one e-mail converted as child tasks

    # Optional services
    redis_url: str | None = None

    # MonkeyOCR engine (remote GPU parser); None switches the engine off.
    monkeyocr_url: str | None = None
    monkeyocr_api_key: str | None = None
    monkeyocr_api_key_header: str = "Authorization"  # sent as "Bearer <key>" for Authorization
    monkeyocr_timeout_s: float = 600.0  # one /parse call; parsing takes seconds to minutes
    monkeyocr_connect_timeout_s: float = 10.0
    monkeyocr_max_retries: int = 3  # for 429, 5xx and connection errors
    monkeyocr_backoff_s: float = 1.0  # first retry delay; doubles each time, with jitter
    monkeyocr_backoff_max_s: float = 30.0
    monkeyocr_max_connections: int = 10
    monkeyocr_split: bool = False  # use /parse/split (one folder per page)
    monkeyocr_max_zip_mb: int = 200  # downloaded result ZIP
    monkeyocr_max_unpacked_mb: int = 1000  # total uncompressed size of its entries
    monkeyocr_max_entries: int = 20_000
    monkeyocr_max_ratio: int = 200  # uncompressed / compressed, per entry larger than 1 MiB

    # LLM gateway and translation (off until llm_base_url or mt_url is set)
    llm_base_url: str | None = None  # OpenAI-compatible, e.g. http://host:8000/v1
    llm_api_key: str | None = None
    llm_models: CommaList = Field(default_factory=list)  # allow-list (+ the default model)
    llm_default_model: str | None = None
    llm_max_tokens: int = 4096  # cap applied to every request's max_tokens
    llm_concurrency: int = 8  # upstream requests in flight, per process
    llm_timeout_s: float = 120.0  # read timeout; connect timeout is llm_connect_timeout_s
    llm_connect_timeout_s: float = 10.0
    llm_max_request_kb: int = 512
    mt_url: str | None = None  # an MT server speaking POST /translate/batch
    translate_engine: Literal["llm", "mt"] | None = None  # else llm if configured, else mt
    translate_concurrency: int = 8
    translate_retries: int = 3
    cache_l1_size: int = 10_000  # entries kept in process
    cache_ttl_s: int = 30 * 24 * 3600
    cache_redis_prefix: str = "docmill:cache:"  # keys in Redis (L2) start with this

    # Live events and sync
    redis_prefix: str = "docmill"  # Redis channel names start with it
    ws_ping_interval_s: float = 20.0
    ws_queue_size: int = 256  # events a WebSocket client may lag behind before it is dropped
    ws_send_timeout_s: float = 10.0  # a client that takes longer to take one message is dropped
    ws_close_timeout_s: float = 30.0  # how long a dropped client's close frame may wait for it
    sync_tombstone_days: float = 30.0  # deleted ids kept for incremental sync
    sync_settle_s: float = 2.0  # longest time a write takes from its timestamp to its commit
    sync_purge_interval_s: float = 3600.0

    # Webhooks (a POST to the task's callback URL when it ends)
    webhook_allow_hosts: CommaList = Field(default_factory=list)  # private targets allowed
    webhook_timeout_s: float = 10.0  # overall deadline of one delivery attempt
    webhook_backoff_s: float = 10.0  # delay after the first failed attempt; doubles each time
    webhook_backoff_max_s: float = 3600.0
    webhook_retry_window_s: float = 24 * 3600.0  # no attempt is made later than this
    webhook_concurrency: int = 8  # deliveries in flight per server
    webhook_poll_s: float = 2.0  # how often a server looks for due deliveries

    # MCP over HTTP (/mcp)
    mcp_max_inline_mb: int = 20  # a file sent inline (base64) to the convert tool

    # Client side: `docmill mcp` and `docmill convert --server` talk to this server
    server_url: str = "http://127.0.0.1:8000"
    api_key: str | None = None

    _split = field_validator(
        "upload_url_allow_hosts",
        "webhook_allow_hosts",
        "extra_engines",
        "cors_origins",
        "llm_models",
        mode="before",
    )(_split_commas)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'docmill.db').resolve()}"

    @property
    def office(self) -> OfficeSettings:
        """How LibreOffice is run, for the pre-conversion step and the upload checks."""
        from docmill.engines.monkeyocr.unpack import UnpackLimits
        from docmill.engines.office import OfficeSettings

        return OfficeSettings(
            soffice=self.office_soffice,
            timeout_s=self.office_timeout_s,
            max_memory_mb=self.office_max_memory_mb,
            package_limits=UnpackLimits(
                max_total_bytes=self.office_max_unpacked_mb * 1024 * 1024,
                max_entries=self.office_max_entries,
                max_ratio=self.office_max_ratio,
            ),
        )

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"

    @cached_property
    def signing_key(self) -> str:
        """The secret for tokens and signed URLs: the setting, else one kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        tmp = key_file.with_suffix(".tmp")
        tmp.write_text(key)
        tmp.chmod(0o600)
        tmp.replace(key_file)
        return key

    def prepare_dirs(self) -> None:
        for folder in (self.data_dir, self.blob_dir, self.tmp_dir):
            folder.mkdir(parents=True, exist_ok=True)
