"""The MonkeyOCR HTTP client: `/parse` with bounded retries, the result ZIP streamed to disk.

One pooled `httpx.AsyncClient` per process and event loop (`shared_client`), so
connections to the upstream are reused across tasks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from docmill.config import Settings
from docmill.engines.base import EngineError
from docmill.errors import PayloadTooLarge
from docmill.filesink import FileSink

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A JSON answer of the API is a few hundred bytes; anything far larger is not one.
MAX_ANSWER_BYTES = 1024 * 1024
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
HEALTH_TIMEOUT_S = 5.0


class MonkeyOCRError(EngineError):
    """MonkeyOCR could not produce a result; the message says why, for a person."""


class _Transient(Exception):
    """A failure worth another attempt (429, 5xx, connection error)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (0-based): exponential, full jitter.
        A server's Retry-After is honoured up to `backoff_max_s`."""
        ceiling = min(self.backoff_max_s, self.backoff_s * (2**retry))
        wait = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.backoff_max_s))
        return wait


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    api_key: str | None = None
    api_key_header: str = "Authorization"
    timeout_s: float = 600.0
    connect_timeout_s: float = 10.0
    max_connections: int = 10
    max_zip_bytes: int = 200 * 1024 * 1024
    retry: RetryPolicy = RetryPolicy()

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientConfig:
        """The client settings. Raises MonkeyOCRError when no MonkeyOCR URL is configured."""
        if not settings.monkeyocr_url:
            raise MonkeyOCRError(
                "The MonkeyOCR engine is not configured on this server (set DOCMILL_MONKEYOCR_URL)."
            )
        return cls(
            base_url=settings.monkeyocr_url.rstrip("/"),
            api_key=settings.monkeyocr_api_key,
            api_key_header=settings.monkeyocr_api_key_header,
            timeout_s=settings.monkeyocr_timeout_s,
            connect_timeout_s=settings.monkeyocr_connect_timeout_s,
            max_connections=settings.monkeyocr_max_connections,
            max_zip_bytes=settings.monkeyocr_max_zip_mb * 1024 * 1024,
            retry=RetryPolicy(
                settings.monkeyocr_max_retries,
                settings.monkeyocr_backoff_s,
                settings.monkeyocr_backoff_max_s,
            ),
        )

    def headers(self) -> dict[str, str]:
        if not self.api_key:
            return {}
        if self.api_key_header.lower() == "authorization":
            return {"Authorization": f"Bearer {self.api_key}"}
        return {self.api_key_header: self.api_key}


@dataclass(frozen=True)
class ParseAnswer:
    download_url: str
    files: list[str]
    message: str


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """The body, read only up to `limit` bytes. Raises MonkeyOCRError beyond that."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body.extend(chunk)
        if len(body) > limit:
            raise MonkeyOCRError("MonkeyOCR sent an answer far larger than expected.")
    return bytes(body)


def _detail(body: bytes) -> str:
    """The `detail` (or `message`) of an error answer, shortened, or ''."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if isinstance(data, dict):
        detail = data.get("detail") or data.get("message") or ""
        return str(detail)[:300]
    return ""


class MonkeyOCRClient:
    """Talks to one MonkeyOCR server. Use `aclose()` (or `async with`) to end its pool."""

    def __init__(
        self, config: ClientConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self._base = httpx.URL(config.base_url + "/")
        self._http = httpx.AsyncClient(
            base_url=config.base_url,
            headers=config.headers(),
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_connections,
            ),
            follow_redirects=False,
            transport=transport,
        )

    async def __aenter__(self) -> MonkeyOCRClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    # -- the calls -----------------------------------------------------------------------

    async def health(self) -> bool:
        """True when the server answers `/health` as healthy with its model loaded.
        Never raises for network trouble (that is simply "not healthy")."""
        try:
            async with self._http.stream("GET", "health", timeout=HEALTH_TIMEOUT_S) as response:
                if response.status_code != 200:
                    return False
                data = json.loads(await _read_capped(response, MAX_ANSWER_BYTES))
        except (httpx.HTTPError, MonkeyOCRError, ValueError):
            return False
        return (
            isinstance(data, dict)
            and data.get("status") == "healthy"
            and data.get("model_loaded") is not False
        )

    async def parse(
        self, path: Path, filename: str, content_type: str, *, split: bool = False
    ) -> ParseAnswer:
        """POST the file (streamed from disk) to `/parse` or `/parse/split`.
        Returns the answer; raises MonkeyOCRError when it fails or retries run out."""
        endpoint = "parse/split" if split else "parse"

        async def attempt() -> ParseAnswer:
            with path.open("rb") as file:  # httpx sends it in 64 KiB chunks
                async with self._http.stream(
                    "POST",
                    endpoint,
                    params={"return_type": "zip_all"},
                    files={"file": (filename, file, content_type)},
                ) as response:
                    body = await _read_capped(response, MAX_ANSWER_BYTES)
            return self._parse_answer(response, body)

        return await self._with_retries("parsing", attempt)

    def _parse_answer(self, response: httpx.Response, body: bytes) -> ParseAnswer:
        status = response.status_code
        if status in RETRY_STATUSES:
            detail = _detail(body)
            raise _Transient(
                f"MonkeyOCR answered HTTP {status}" + (f": {detail}" if detail else ""),
                _retry_after(response),
            )
        if status != 200:
            detail = _detail(body)
            raise MonkeyOCRError(
                f"MonkeyOCR refused the document (HTTP {status})"
                + (f": {detail}" if detail else ".")
            )
        try:
            data: Any = json.loads(body)
        except ValueError as exc:
            raise MonkeyOCRError("MonkeyOCR sent an answer that is not JSON.") from exc
        if not isinstance(data, dict) or not data.get("success"):
            message = data.get("message") if isinstance(data, dict) else None
            raise MonkeyOCRError(
                f"MonkeyOCR could not parse the document: {message or 'no reason given'}."
            )
        download_url = data.get("download_url")
        if not isinstance(download_url, str) or not download_url:
            raise MonkeyOCRError("MonkeyOCR's answer has no download_url for the result.")
        files = data.get("files")
        return ParseAnswer(
            download_url=download_url,
            files=[str(name) for name in files] if isinstance(files, list) else [],
            message=str(data.get("message") or ""),
        )

    def resolve(self, download_url: str) -> httpx.URL:
        """The absolute URL of a `download_url`, resolved against the configured base URL.
        Raises MonkeyOCRError when it points to another scheme, host or port."""
        try:
            url = self._base.join(download_url)
        except httpx.InvalidURL as exc:
            raise MonkeyOCRError("MonkeyOCR sent a download_url that is not a valid URL.") from exc
        if (url.scheme, url.host, url.port) != (
            self._base.scheme,
            self._base.host,
            self._base.port,
        ):
            raise MonkeyOCRError(
                f"MonkeyOCR sent a download_url on another host ({url.host or '?'}); "
                "it was not followed."
            )
        return url

    async def download(self, download_url: str, destination: Path) -> int:
        """Stream the result ZIP to `destination`; the number of bytes written.
        Raises MonkeyOCRError for a foreign host, a size over the cap, or a failed download."""
        url = self.resolve(download_url)
        limit = self.config.max_zip_bytes

        async def attempt() -> int:
            async with self._http.stream("GET", url) as response:
                if response.status_code in RETRY_STATUSES:
                    raise _Transient(
                        f"MonkeyOCR answered HTTP {response.status_code} for the result ZIP",
                        _retry_after(response),
                    )
                if response.status_code != 200:
                    raise MonkeyOCRError(
                        f"MonkeyOCR could not deliver the result ZIP (HTTP {response.status_code})."
                    )
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise self._too_large()
                sink = FileSink(destination, limit)
                try:
                    await sink.write_all(response.aiter_bytes())
                except PayloadTooLarge as exc:
                    raise self._too_large() from exc
            return sink.size

        try:
            return await self._with_retries("downloading the result", attempt)
        except MonkeyOCRError:
            await asyncio.to_thread(destination.unlink, True)
            raise

    def _too_large(self) -> MonkeyOCRError:
        megabytes = self.config.max_zip_bytes // (1024 * 1024)
        return MonkeyOCRError(f"MonkeyOCR's result ZIP is larger than the {megabytes} MB allowed.")

    # -- retries -----------------------------------------------------------------------

    async def _with_retries(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run `attempt` until it succeeds, fails for good, or retries run out.
        Transient failures (429, 5xx, connection errors) are retried with backoff."""
        policy = self.config.retry
        retry = 0
        while True:
            try:
                return await attempt()
            except _Transient as exc:
                failure, retry_after = str(exc), exc.retry_after
            except httpx.TimeoutException as exc:
                # A read timeout means the server is busy with it; a second try would be as slow.
                if not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
                    raise MonkeyOCRError(
                        f"MonkeyOCR did not answer within {self.config.timeout_s:g} s while {what}."
                    ) from exc
                failure, retry_after = (
                    f"could not connect to MonkeyOCR ({type(exc).__name__})",
                    None,
                )
            except httpx.TransportError as exc:
                failure, retry_after = (
                    f"could not reach MonkeyOCR at {self.config.base_url} ({type(exc).__name__})",
                    None,
                )
            if retry >= policy.max_retries:
                raise MonkeyOCRError(
                    f"MonkeyOCR failed while {what} after {retry + 1} attempts: {failure}."
                )
            wait = policy.delay(retry, retry_after)
            logger.info("MonkeyOCR %s: %s; retry %d in %.2f s", what, failure, retry + 1, wait)
            retry += 1
            await asyncio.sleep(wait)


_shared: dict[ClientConfig, tuple[asyncio.AbstractEventLoop, MonkeyOCRClient]] = {}


def shared_client(settings: Settings) -> MonkeyOCRClient:
    """The process's pooled client for these settings (one per event loop).
    Raises MonkeyOCRError when MonkeyOCR is not configured."""
    config = ClientConfig.from_settings(settings)
    loop = asyncio.get_running_loop()
    entry = _shared.get(config)
    if entry is not None and entry[0] is loop and not entry[1].closed:
        return entry[1]
    client = MonkeyOCRClient(config)
    _shared[config] = (loop, client)
    return client


async def close_shared_clients() -> None:
    """Close the pooled clients that belong to the running event loop."""
    loop = asyncio.get_running_loop()
    for config, (owner, client) in list(_shared.items()):
        if owner is loop:
            del _shared[config]
            await client.aclose()


async def check_health(settings: Settings) -> bool:
    """True when MonkeyOCR is configured and answers healthy (for `/ready`)."""
    if not settings.monkeyocr_url:
        return False
    return await shared_client(settings).health()
