"""The way out to tools: one HTTP client whose every connection is checked, capped and timed.

Tool URLs come only from the operator, but a name can resolve anywhere, so the check is made where the
connection is made: a resolver in front of aiohttp's (the same pool behind httpx's interface that the
providers use) refuses a host when any address it resolves to is refused, and a URL naming an address
outright is checked before the request. Refused always: link-local (169.254.0.0/16, fe80::/10, where cloud
metadata services live), the metadata addresses outside it (fd00:ec2::254, 100.100.100.200), unspecified,
multicast and reserved addresses. Private, shared (100.64.0.0/10) and loopback addresses are allowed unless
`[tools] allow_private_networks` is off: self-hosted n8n lives there. Redirects are never followed, so the
checked host is the only one reached, and the client ignores proxy variables, which would bypass the check.

Every request has a timeout, and an answer is read up to a byte cap and no further.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

from providers.errors import ToolError, ToolTimeout, ToolUnreachable
from providers.pool import SessionTransport

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from aiohttp.abc import ResolveResult

__all__ = [
    "REFUSED",
    "AddressRefused",
    "CappedBody",
    "EgressClient",
    "GuardedResolver",
    "UrlRefused",
    "check_url",
    "refusal",
]

_METADATA = (ipaddress.ip_network("fd00:ec2::254/128"), ipaddress.ip_network("100.100.100.200/32"))
_SHARED = ipaddress.ip_network("100.64.0.0/10")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REFUSED = "tool_address_refused"
"""The code of a `ToolUnreachable` for an address the router refuses (never retried)."""


class UrlRefused(ValueError):
    """A tool URL the router will not call."""


class AddressRefused(OSError):
    """A host resolved to an address the router will not connect to."""


def refusal(address: IPAddress, *, allow_private_networks: bool) -> str | None:
    """Why the router will not connect to `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_link_local or any(address in network for network in _METADATA):
        return f"{address} is a link-local or cloud metadata address"
    if address.is_unspecified or address.is_multicast:
        return f"{address} is not a unicast address"
    # Before `is_reserved`, which Python also says of ::1 (all of ::/8 is reserved).
    if address.is_loopback or address.is_private or address in _SHARED:
        private = f"{address} is a private address (tools.allow_private_networks is off)"
        return None if allow_private_networks else private
    if address.is_reserved:
        return f"{address} is a reserved address"
    return None


def check_url(url: str, *, allow_private_networks: bool) -> None:
    """Raise `UrlRefused` unless `url` is an http(s) URL the router may call (as far as the URL shows)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError as exc:
        raise UrlRefused(f"it is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise UrlRefused("it must be an http:// or https:// URL with a host")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if (reason := refusal(address, allow_private_networks=allow_private_networks)) is not None:
        raise UrlRefused(reason)


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing a host if any of its addresses is refused (so no retry can reach it)."""

    def __init__(self, *, allow_private_networks: bool, resolver: AbstractResolver | None = None) -> None:
        self.allow_private_networks = allow_private_networks
        self._resolver = resolver or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        for result in found:
            reason = refusal(ipaddress.ip_address(result["host"]), allow_private_networks=self.allow_private_networks)
            if reason is not None:
                raise AddressRefused(f"{host} resolves to {reason}")
        return found

    async def close(self) -> None:
        await self._resolver.close()


@dataclass(frozen=True, slots=True)
class CappedBody:
    """An answer read up to the cap."""

    status: int
    headers: httpx.Headers
    body: bytes
    truncated: bool


class EgressClient:
    """The one HTTP client for tool calls, OpenAPI documents and MCP servers."""

    def __init__(self, *, allow_private_networks: bool, resolver: AbstractResolver | None = None) -> None:
        self.allow_private_networks = allow_private_networks

        def session() -> aiohttp.ClientSession:
            # Made lazily, inside the running loop, as aiohttp requires.
            guarded = GuardedResolver(allow_private_networks=allow_private_networks, resolver=resolver)
            return aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=guarded), cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
            )

        # Neither layer keeps cookies: a cookie one tool server sets is not for a later call, which may be
        # another client's.
        self._http = httpx.AsyncClient(
            transport=SessionTransport(session),
            follow_redirects=False,
            trust_env=False,
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        time_limit: float,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        params: list[tuple[str, str | int | float | bool | None]] | None = None,
        content: bytes | None = None,
        what: str = "the tool",
    ) -> CappedBody:
        """Send one request and read its answer up to `max_bytes`, mapping failures to `ToolError`s."""
        async with self.stream(
            method, url, time_limit=time_limit, headers=headers, params=params, content=content, what=what
        ) as response:
            body, truncated = await read_capped(response, max_bytes, what)
            return CappedBody(response.status_code, response.headers, body, truncated)

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        time_limit: float,
        headers: Mapping[str, str] | None = None,
        params: list[tuple[str, str | int | float | bool | None]] | None = None,
        content: bytes | None = None,
        what: str = "the tool",
    ) -> AsyncIterator[httpx.Response]:
        """An answer whose body is still to be read (an MCP server's event stream)."""
        try:
            check_url(url, allow_private_networks=self.allow_private_networks)
        except UrlRefused as exc:
            raise ToolUnreachable(f"The router refused to connect to {what}: {exc}.", code=REFUSED) from None
        request = self._http.build_request(
            method, url, headers=headers, params=params, content=content, timeout=httpx.Timeout(time_limit)
        )
        try:
            response = await self._http.send(request, stream=True)
        except (TimeoutError, httpx.TransportError, aiohttp.ClientError, OSError) as exc:
            raise transport_failure(exc, what, time_limit) from None
        try:
            yield response
        except (TimeoutError, httpx.TransportError, aiohttp.ClientError, OSError) as exc:
            raise transport_failure(exc, what, time_limit) from None
        finally:
            await response.aclose()


async def read_capped(response: httpx.Response, max_bytes: int, what: str = "the tool") -> tuple[bytes, bool]:
    """Up to `max_bytes` of the (decoded) body, and whether there was more."""
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            if size + len(chunk) > max_bytes:
                parts.append(chunk[: max_bytes - size])
                return b"".join(parts), True
            parts.append(chunk)
            size += len(chunk)
    except (TimeoutError, httpx.TransportError, aiohttp.ClientError, OSError) as exc:
        raise transport_failure(exc, what, None) from None
    return b"".join(parts), False


def transport_failure(exc: BaseException, what: str, time_limit: float | None) -> ToolError:
    """The `ToolError` for a failed connection: the aiohttp exception under httpx's says what happened."""
    causes: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(causes) < 8:
        causes.append(cause)
        cause = cause.__cause__ or cause.__context__
    for found in causes:
        if isinstance(found, AddressRefused):
            return ToolUnreachable(f"The router refused to connect to {what}: {found}.", code=REFUSED)
    for found in causes:
        if isinstance(found, aiohttp.ServerTimeoutError | asyncio.TimeoutError | TimeoutError):
            return _timed_out(what, time_limit)
        if isinstance(found, aiohttp.ClientConnectorError):
            return ToolUnreachable(f"Could not connect to {what} ({_reason(found)}).")
        if isinstance(found, aiohttp.ClientError):
            return ToolUnreachable(f"The connection to {what} failed ({type(found).__name__}).")
    if isinstance(exc, httpx.TimeoutException):
        return _timed_out(what, time_limit)
    return ToolUnreachable(f"The connection to {what} failed ({type(exc).__name__}).")


def _timed_out(what: str, time_limit: float | None) -> ToolTimeout:
    within = f" within {time_limit:g} s" if time_limit is not None else ""
    return ToolTimeout(f"{what[0].upper()}{what[1:]} did not answer{within}.")


def _reason(exc: aiohttp.ClientConnectorError) -> str:
    # Only the OS's reason: aiohttp's own text repeats the host and port, which are the operator's business.
    return exc.strerror or type(exc.os_error).__name__
