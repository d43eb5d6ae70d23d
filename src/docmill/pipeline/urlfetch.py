"""Fetching a document from a URL without becoming a proxy into private networks.

Every TCP connection (the first request and each redirect) goes through a network
backend that resolves the host itself, refuses private, loopback, link-local, reserved
and cloud-metadata addresses unless allow-listed, and connects to the address it
checked, so a DNS answer cannot change between the check and the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpcore
import httpx

from docmill.errors import InvalidInput, PayloadTooLarge, UnsafeURL, UpstreamFailed
from docmill.pipeline.intake import ReceivedFile, receive_stream

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200"),
}


class AddressPolicy:
    """Which addresses a fetch may connect to: public ones, plus the allow-list
    (host names, addresses or networks such as `10.1.0.0/16`)."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.allowed_names: set[str] = set()
        self.allowed_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allow:
            try:
                self.allowed_networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.allowed_names.add(entry.lower().rstrip("."))

    def host_allowed(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.allowed_names

    def address_allowed(self, address: IPAddress) -> bool:
        if any(address in network for network in self.allowed_networks):
            return True
        if address in METADATA_ADDRESSES:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            return self.address_allowed(address.ipv4_mapped)
        return address.is_global and not address.is_multicast

    async def checked_address(self, host: str, port: int) -> str:
        """The address to connect to for `host`. Raises UnsafeURL when any address it
        resolves to is not allowed, UpstreamFailed when it does not resolve."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            raise UpstreamFailed(
                f"The host '{host}' could not be resolved.", code="dns_failed"
            ) from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not self.host_allowed(host):
            refused = [a for a in addresses if not self.address_allowed(a)]
            if refused:
                raise UnsafeURL(
                    f"The URL points to a private or reserved address ({refused[0]}); "
                    "docmill does not connect to those.",
                )
        return str(addresses[0])


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's default backend, with every address checked against a policy."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self.policy.checked_address(host, port)
        return await self.inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise UnsafeURL("Unix sockets are not fetched.")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose connections all go through GuardedBackend."""

    def __init__(self, policy: AddressPolicy) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=GuardedBackend(policy),
        )


def check_url(url: str) -> httpx.URL:
    """The URL parsed, if it is http(s) with a host. Raises UnsafeURL otherwise."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidInput("The URL is not valid.", code="invalid_url") from exc
    if parsed.scheme not in ("http", "https"):
        raise UnsafeURL("Only http and https URLs can be fetched.")
    if not parsed.host:
        raise InvalidInput("The URL has no host.", code="invalid_url")
    if parsed.userinfo:
        raise UnsafeURL("URLs with credentials are not fetched.")
    return parsed


async def check_destination(url: str, policy: AddressPolicy) -> httpx.URL:
    """`url` parsed, once it is http(s) and its host resolves to allowed addresses only.
    Raises UnsafeURL, InvalidInput or UpstreamFailed (host unknown). Connections are
    checked again when made (GuardedTransport): DNS may answer differently later."""
    parsed = check_url(url)
    await policy.checked_address(
        parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)
    )
    return parsed


def filename_from(response: httpx.Response) -> str:
    disposition = response.headers.get("content-disposition", "")
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename" and value:
            return value.strip('"') or "download"
    name = unquote(urlsplit(str(response.url)).path.rsplit("/", 1)[-1])
    return name or "download"


async def fetch_to_file(
    url: str,
    path: Path,
    *,
    limit: int,
    policy: AddressPolicy,
    timeout_s: float,
    max_redirects: int,
) -> ReceivedFile:
    """Download `url` to `path`, re-checking every redirect, capped at `limit` bytes.
    Raises UnsafeURL, InvalidInput, PayloadTooLarge or UpstreamFailed."""
    target = check_url(url)
    async with httpx.AsyncClient(
        transport=GuardedTransport(policy), timeout=timeout_s, follow_redirects=False
    ) as client:
        for _ in range(max_redirects + 1):
            try:
                async with client.stream("GET", target) as response:
                    if response.is_redirect:
                        location = response.headers.get("location", "")
                        target = check_url(str(response.url.join(location)))
                        continue
                    if response.status_code != 200:
                        raise UpstreamFailed(
                            f"The URL answered HTTP {response.status_code}.", code="fetch_failed"
                        )
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > limit:
                        raise PayloadTooLarge.over(limit)
                    return await receive_stream(
                        response.aiter_bytes(), path, limit, filename_from(response)
                    )
            except httpx.TimeoutException as exc:
                raise UpstreamFailed(
                    "The URL took too long to answer.", code="fetch_timeout"
                ) from exc
            except httpx.HTTPError as exc:
                raise UpstreamFailed(
                    f"The URL could not be fetched: {exc}.", code="fetch_failed"
                ) from exc
    raise UpstreamFailed("The URL redirected too many times.", code="too_many_redirects")
