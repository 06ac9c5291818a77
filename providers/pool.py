"""The connection pool behind every outbound call: one aiohttp session, with two ways in.

- `exchange()`, for the provider adapters' requests (`providers.transport.UpstreamHTTP`): they run on every
  model request and need only an answer's status, headers and body, so they go without httpx's request and
  answer models, which cost more than the rest of the exchange (header normalisation both ways, four async
  generators deep for the body). aiohttp decompresses the answer.
- `handle_async_request()`, httpx's transport interface, for everything else (the tool clients use an
  `httpx.AsyncClient` over it, and respx mocks httpx in tests). The answer's body is passed on as sent, and
  httpx decodes a compressed one.

On the benchmark's canned upstream httpx's own pool served about 1,000 requests per second with 32 in
flight, and aiohttp's over ten times that. Either way in, this module converts no more than it must:

- the URL goes as httpx encoded it, and the body as the bytes the request already holds (a stream's chunks
  if it has none);
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
    from collections.abc import AsyncIterator, Callable, Mapping, Sequence

__all__ = ["HEADER_NAME", "HEADER_VALUE", "Answer", "SessionTransport", "client_timeout"]

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
def client_timeout(connect: float | None, read: float | None, pool: float | None) -> aiohttp.ClientTimeout:
    """aiohttp's form of httpx's timeouts (`write` has no counterpart: aiohttp writes without a deadline)."""
    return aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=pool)


class SessionTransport(httpx.AsyncBaseTransport):
    """One aiohttp session, made at the first request (inside the running loop, as aiohttp requires).

    Two ways in: `handle_async_request()`, httpx's, for any httpx client (the tool clients use one), and
    `exchange()`, for the provider adapters' requests, which need only an answer's status, headers and body
    and skip httpx's models both ways. Redirects are not followed either way, so what the caller gets is what
    the server answered.
    """

    def __init__(self, session: Callable[[], aiohttp.ClientSession]) -> None:
        self._make_session = session
        self._session: aiohttp.ClientSession | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """httpx's way in. The body is passed on as sent (httpx decodes a compressed one)."""
        timeout = request.extensions.get("timeout", {})
        headers = request.headers.multi_items()
        try:
            data: bytes | httpx.AsyncByteStream | None = request.content or None
        except httpx.RequestNotRead:
            data = request.stream  # type: ignore[assignment]  # async by contract of this transport
            # aiohttp frames a streamed body itself, and refuses a request that names the framing.
            headers = [(name, value) for name, value in headers if name.lower() != "transfer-encoding"]
        answer = await self._request(
            request.method,
            # As httpx encoded it: parsing it again would decode what must stay encoded (`%2F`).
            yarl.URL(str(request.url), encoded=True),
            headers,
            data,
            client_timeout(timeout.get("connect"), timeout.get("read"), timeout.get("pool")),
            decompress=False,
            server_hostname=request.extensions.get("sni_hostname"),
        )
        version = answer.version
        extensions = {"http_version": b"HTTP/%d.%d" % (version.major, version.minor) if version else b"HTTP/1.1"}
        if answer.reason:
            extensions["reason_phrase"] = answer.reason.encode("latin-1", "replace")
        return httpx.Response(
            answer.status, headers=answer.raw_headers, stream=_Body(answer), request=request, extensions=extensions
        )

    async def exchange(
        self,
        method: str,
        url: yarl.URL,
        headers: Sequence[tuple[str, str]],
        body: bytes | None,
        timeouts: aiohttp.ClientTimeout,
    ) -> Answer:
        """One request, its answer as aiohttp reads it: decompressed, its body still to be read.

        Failures are raised as httpx's exceptions, as from `handle_async_request()`.
        """
        return Answer(await self._request(method, url, headers, body, timeouts, decompress=True))

    async def _request(
        self,
        method: str,
        url: yarl.URL,
        headers: Sequence[tuple[str, str]],
        data: bytes | httpx.AsyncByteStream | None,
        timeouts: aiohttp.ClientTimeout,
        *,
        decompress: bool,
        server_hostname: str | None = None,
    ) -> aiohttp.ClientResponse:
        session = self._session
        if session is None:
            session = self._session = self._make_session()
        try:
            return await session.request(
                method,
                url,
                headers=headers,
                data=data,
                timeout=timeouts,
                allow_redirects=False,
                auto_decompress=decompress,
                server_hostname=server_hostname,
            )
        except (aiohttp.ClientError, OSError) as exc:
            raise _mapped(exc) from exc
        except ValueError as exc:  # a header aiohttp will not write (a line break in a value)
            raise httpx.LocalProtocolError(str(exc)) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class Answer:
    """An answer from `SessionTransport.exchange()`: its status, its headers (a case-insensitive mapping) and
    its body, read once with `pieces()`. Closing it before the body's end drops the connection, which is how a
    stream the caller abandons is cancelled upstream; a body read to the end frees it for reuse."""

    __slots__ = ("_answer", "headers", "status_code")

    def __init__(self, answer: aiohttp.ClientResponse) -> None:
        self._answer = answer
        self.status_code: int = answer.status
        self.headers: Mapping[str, str] = answer.headers

    def pieces(self) -> AsyncIterator[bytes]:
        """The body in the pieces aiohttp reads, as they arrive."""
        return _pieces(self._answer)

    async def aclose(self) -> None:
        self._answer.release()


class _Body(httpx.AsyncByteStream):
    """An answer's body for httpx, closed as `Answer` is."""

    __slots__ = ("_answer",)

    def __init__(self, answer: aiohttp.ClientResponse) -> None:
        self._answer = answer

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _pieces(self._answer)

    async def aclose(self) -> None:
        self._answer.release()


async def _pieces(answer: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    try:
        async for chunk in answer.content.iter_any():
            yield chunk
    except (aiohttp.ClientError, OSError) as exc:
        raise _mapped(exc) from exc
