"""httpx's transport interface over one aiohttp session: the connection pool behind every outbound call.

httpx is the router's model of a request and an answer (respx mocks it in tests, and every adapter and tool
client speaks it); aiohttp is its pool. On the benchmark's canned upstream httpx's own pool served about
1,000 requests per second with 32 in flight, and aiohttp's over ten times that. This module is the seam
between the two, and it runs on every upstream request, so it converts no more than it must:

- the URL goes as httpx encoded it, and the body as the bytes the request already holds (a stream's chunks
  if it has none);
- the headers go as httpx keeps them, once decoded, and the answer's come back as aiohttp read them;
- `aiohttp.ClientTimeout`s are made once per set of timeouts, not once per request;
- the answer's body is handed on in the pieces aiohttp reads, as they arrive, which a stream needs.

aiohttp's exceptions become httpx's, each as what it is: a refused connection is a `ConnectError`, a
connection that timed out a `ConnectTimeout`, a silent upstream a `ReadTimeout`, a broken or cut-off answer
a `RemoteProtocolError`, a header aiohttp will not write a `LocalProtocolError`. The aiohttp exception stays
as the `__cause__`, which says what happened below.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

import aiohttp
import httpx
import yarl

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

__all__ = ["HEADER_NAME", "HEADER_VALUE", "SessionTransport"]

# What a header the router sends may be: a name is RFC 9110's token, a value printable ASCII (and tabs). aiohttp
# refuses a line break, and would write anything beyond ASCII as UTF-8, which a server may read otherwise.
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")

# First match wins, so a class comes before its bases.
_MAPPED: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),  # no connection in time, or no free one in the pool
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),  # nothing read for sock_read seconds
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, unresolvable, TLS failed
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),  # closed before the answer
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),  # a body cut off or badly framed
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # an answer that is not HTTP
    (aiohttp.ClientOSError, httpx.ReadError),  # reset or broken while in use
    (aiohttp.ClientError, httpx.NetworkError),
    (TimeoutError, httpx.ReadTimeout),
    (OSError, httpx.NetworkError),
)


def _mapped(exc: Exception) -> httpx.TransportError:
    """The httpx exception for an aiohttp (or socket) exception, to be raised `from` it."""
    for source, target in _MAPPED:
        if isinstance(exc, source):
            return target(str(exc) or type(exc).__name__)
    raise TypeError(f"not a transport failure: {exc!r}")  # pragma: no cover - the table ends with OSError


@functools.lru_cache(maxsize=64)
def _client_timeout(connect: float | None, read: float | None, pool: float | None) -> aiohttp.ClientTimeout:
    """aiohttp's form of httpx's timeouts (`write` has no counterpart: aiohttp writes without a deadline)."""
    return aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=pool)


class SessionTransport(httpx.AsyncBaseTransport):
    """One aiohttp session, made at the first request (inside the running loop, as aiohttp requires).

    Redirects are not followed and bodies are passed on as sent (httpx decodes a compressed one), so what
    the caller gets is what the server answered.
    """

    def __init__(self, session: Callable[[], aiohttp.ClientSession]) -> None:
        self._make_session = session
        self._session: aiohttp.ClientSession | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session
        if session is None:
            session = self._session = self._make_session()
        timeout = request.extensions.get("timeout", {})
        headers = request.headers.multi_items()
        try:
            data: bytes | httpx.AsyncByteStream | None = request.content or None
        except httpx.RequestNotRead:
            data = request.stream  # type: ignore[assignment]  # async by contract of this transport
            # aiohttp frames a streamed body itself, and refuses a request that names the framing.
            headers = [(name, value) for name, value in headers if name.lower() != "transfer-encoding"]
        try:
            answer = await session.request(
                request.method,
                # As httpx encoded it: parsing it again would decode what must stay encoded (`%2F`).
                yarl.URL(str(request.url), encoded=True),
                headers=headers,
                data=data,
                timeout=_client_timeout(timeout.get("connect"), timeout.get("read"), timeout.get("pool")),
                allow_redirects=False,
                auto_decompress=False,
                server_hostname=request.extensions.get("sni_hostname"),
            )
        except (aiohttp.ClientError, OSError) as exc:
            raise _mapped(exc) from exc
        except ValueError as exc:  # a header aiohttp will not write (a line break in a value)
            raise httpx.LocalProtocolError(str(exc)) from exc
        version = answer.version
        extensions = {"http_version": b"HTTP/%d.%d" % (version.major, version.minor) if version else b"HTTP/1.1"}
        if answer.reason:
            extensions["reason_phrase"] = answer.reason.encode("latin-1", "replace")
        return httpx.Response(
            answer.status, headers=answer.raw_headers, stream=_Body(answer), request=request, extensions=extensions
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _Body(httpx.AsyncByteStream):
    """An answer's body, in the pieces aiohttp reads. Closing it before the end drops the connection, which
    is how a stream the caller abandons is cancelled upstream; a body read to the end frees it for reuse."""

    __slots__ = ("_answer",)

    def __init__(self, answer: aiohttp.ClientResponse) -> None:
        self._answer = answer

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._answer.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, OSError) as exc:
            raise _mapped(exc) from exc

    async def aclose(self) -> None:
        self._answer.release()
