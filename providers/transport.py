"""The HTTP plumbing every provider adapter shares, whatever its dialect: send, read, stream, fail cleanly.

An adapter composes one `UpstreamHTTP` (it has one; it does not inherit one) and keeps only its dialect's
codec: payloads, answers, error envelopes. `UpstreamHTTP` owns what does not depend on the dialect:

- `send()` puts a request on the worker's one shared transport (POST with a body, GET without), with the
  adapter's headers and the provider's timeouts, both built once. Not a client: the router needs none of a
  client's cookies, redirects or auth flows, which cost time on every request. On the server's own pool
  (`SessionTransport`) it goes by `exchange()`, without httpx's request and answer models, which cost more
  than the rest of the exchange; on any other httpx transport (a test's mock) by httpx's interface.
- `read()` / `fetch()` read a whole answer, at most `max_response_bytes` of it, and raise the adapter's
  error for an answer that refuses the request.
- `stream()` sends a stream request, checks the answer is server-sent events, yields its events (each at
  most `max_event_bytes`) and closes the answer however the caller stops; `drain()` reads out what an
  upstream sends after its last event, so its connection can be used again.
- `errors()` turns httpx's exceptions, and an oversized answer, into the router's errors in one place,
  as httpx's `map_httpcore_exceptions()` does for httpcore's.
- `retry_after()` reads a `Retry-After` header.

Secrets: every byte an upstream sends is scrubbed of the provider's key where it enters (`read()` and
`stream()`), before anything parses, truncates, quotes or logs it, so no later code path can forget. Success
and failure alike: what an upstream echoes is not the router's to pass on. Header values and exception text
quoted in an error go through `scrub_text()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import time
from typing import TYPE_CHECKING, Protocol

import httpx
import yarl

from providers.deadlines import Deadlines
from providers.errors import (
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamResponseTooLarge,
    UpstreamTimeout,
)
from providers.pool import SessionTransport, client_timeout
from providers.sse import EventTooLarge, ServerSentEvent, iter_events

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping

    from providers.base import ProviderSettings

__all__ = ["UpstreamAnswer", "UpstreamHTTP", "attempt_timeout", "retry_after"]

# A server that keeps a stream open after its last event gets this long before its connection is dropped.
_DRAIN_SECONDS = 1.0
_REDACTED = b"[redacted]"


def attempt_timeout(seconds: float) -> httpx.Timeout:
    """One upstream attempt's timeouts, from its provider's `timeout`: that long to read, write or wait for a
    pooled connection, and no more than 10 s of it to connect."""
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


class UpstreamAnswer(Protocol):
    """What `send()` returns: an answer's status and headers (a case-insensitive mapping), and its body, read
    once with `pieces()`; the caller closes it."""

    status_code: int
    headers: Mapping[str, str]

    def pieces(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class UpstreamHTTP:
    """One provider's way to its upstream: the shared transport, with that provider's headers and limits."""

    def __init__(
        self,
        provider: str,
        transport: httpx.AsyncBaseTransport,
        settings: ProviderSettings,
        *,
        headers: Mapping[str, str],
        error_from_response: Callable[[int, bytes, Mapping[str, str]], UpstreamError],
    ) -> None:
        """`error_from_response(status, body, headers)` is the adapter's mapping of an HTTP error (its body
        already scrubbed) to a router error."""
        self.provider = provider
        self.transport = transport
        self.max_response_bytes = settings.max_response_bytes
        self.max_event_bytes = settings.max_event_bytes
        self.stream_idle_timeout = settings.stream_idle_timeout
        self._session = transport if isinstance(transport, SessionTransport) else None
        timeout = attempt_timeout(settings.timeout)
        # Each way in gets the headers and timeouts in its own form.
        self._headers = list(headers.items())
        self._timeout = client_timeout(timeout.connect, timeout.read, timeout.pool)
        self._raw_headers = [(name.encode("ascii"), value.encode("latin-1")) for name, value in self._headers]
        self._extensions = {"timeout": timeout.as_dict()}
        # The last URL sent to, in aiohttp's form: an adapter sends to the same few URL objects every time.
        self._url: httpx.URL | None = None
        self._target = yarl.URL()
        self._error_from_response = error_from_response
        self._secret_text = settings.api_key.get_secret_value() if settings.api_key else ""
        self._secret = self._secret_text.encode()
        # Where the limits are set, for the message of an answer past one.
        self._table = f"[providers.{provider}]"
        self._env_prefix = str(settings.model_config.get("env_prefix", "")).upper()
        self._drains = Deadlines()

    # ---------------------------------------------------------------------------------------------- calls

    async def send(self, url: httpx.URL, body: bytes | None = None) -> UpstreamAnswer:
        """Send one request (POST with a body, GET without); the answer's body is still to be read."""
        method = "GET" if body is None else "POST"
        with self.errors(url):
            if self._session is None:
                return _HttpxAnswer(await self.transport.handle_async_request(self._request(method, url, body)))
            if url is not self._url:
                # As httpx encoded it: parsing it again would decode what must stay encoded (`%2F`).
                self._target = yarl.URL(str(url), encoded=True)
                self._url = url
            return await self._session.exchange(method, self._target, self._headers, body, self._timeout)

    def _request(self, method: str, url: httpx.URL, body: bytes | None) -> httpx.Request:
        if body is None:
            return httpx.Request(method, url, headers=self._raw_headers, extensions=self._extensions)
        # What `content=body` does, at a third of its cost: the headers need no normalising, and the body is
        # known to be bytes. No Host field: the transport writes the URL's.
        request = httpx.Request(
            method,
            url,
            headers=[*self._raw_headers, (b"Content-Length", b"%d" % len(body))],
            stream=httpx.ByteStream(body),
            extensions=self._extensions,
        )
        request.read()  # the body as `request.content`, for transports that want it whole (no copy)
        return request

    async def read(self, response: UpstreamAnswer) -> bytes:
        """A whole answer's body, scrubbed, or the adapter's error for it when the upstream refused the request."""
        with self.errors():
            try:
                content = await self._body(response)
            finally:
                await response.aclose()
        if response.status_code >= 400:
            raise self._error_from_response(response.status_code, content, response.headers)
        return content

    async def fetch(self, url: httpx.URL, body: bytes | None = None) -> bytes:
        """Send one request and read its whole answer."""
        return await self.read(await self.send(url, body))

    @contextlib.asynccontextmanager
    async def stream(self, url: httpx.URL, body: bytes) -> AsyncIterator[AsyncGenerator[ServerSentEvent, None]]:
        """`async with http.stream(url, body) as events`: the events of a stream request's answer.

        A refusal, or an answer that is not a stream, is raised on entry; the answer is closed on exit,
        however the caller stops (closing it cancels the upstream request).
        """
        response = await self.send(url, body)
        try:
            await self.check_stream(response)
            events = self.events(response)
            try:
                yield events
            finally:
                await events.aclose()
        finally:
            await response.aclose()

    async def check_stream(self, response: UpstreamAnswer) -> None:
        """Raise for a stream request that was refused, or answered with something other than SSE."""
        content_type = response.headers.get("content-type", "")
        if response.status_code < 400 and content_type.startswith("text/event-stream"):
            return
        content = await self.read(response)  # raises the adapter's error for a refusal
        raise UpstreamProtocolError(
            f"{self.provider} answered a stream request with {self.scrub_text(content_type)!r}, not server-sent "
            f"events: {content[:200].decode('utf-8', 'replace')!r}",
            provider=self.provider,
        )

    async def events(self, response: UpstreamAnswer) -> AsyncGenerator[ServerSentEvent, None]:
        """The scrubbed events of an SSE answer; a failure while reading is raised as the router's error, and
        so is a stream that goes `stream_idle_timeout` seconds without a byte."""
        secret = self._secret
        with self.errors():
            async for event in iter_events(self._lively(response.pieces()), self.max_event_bytes):
                if secret and secret in event.data:
                    yield ServerSentEvent(event.data.replace(secret, _REDACTED), event.event)
                else:
                    yield event

    async def _lively(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """`chunks`, ended with an `UpstreamTimeout` once the upstream sends nothing for the idle timeout.

        Only the waits for the upstream count, not the time the consumer takes with a chunk (a slow client).
        """
        idle = self.stream_idle_timeout
        watch = _IdleWatch(idle)
        try:
            while True:
                task = asyncio.current_task()  # whichever task reads the stream now
                assert task is not None, "a stream is read by a task"
                cancelling = task.cancelling()
                watch.waiting(task)
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    # The watch's cancellation, unless another one is pending: that one wins.
                    if watch.fired and task.uncancel() <= cancelling:
                        raise UpstreamTimeout(
                            f"{self.provider} sent nothing for {idle:g} s in the middle of a stream "
                            "(stream_idle_timeout).",
                            provider=self.provider,
                            code="stream_idle_timeout",
                        ) from None
                    raise
                finally:
                    watch.busy()
                yield chunk
        finally:
            watch.close()

    async def drain(self, events: AsyncIterator[ServerSentEvent]) -> None:
        """Read a stream to the end of its body after its last event, so its connection can serve the next request."""
        with contextlib.suppress(TimeoutError, UpstreamError), self._drains.within(_DRAIN_SECONDS):
            async for _ in events:
                pass

    # --------------------------------------------------------------------------------------------- errors

    @contextlib.contextmanager
    def errors(self, url: httpx.URL | None = None) -> Iterator[None]:
        """Translate httpx's exceptions (and an oversized event) into the router's; `url` is where a request went."""
        try:
            yield
        except EventTooLarge as exc:
            raise self._too_large("a stream event", "max_event_bytes", exc.limit) from None
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(
                f"{self.provider} did not answer in time ({type(exc).__name__}).", provider=self.provider
            ) from None
        except httpx.ConnectError as exc:
            raise self._unreachable(exc, url) from None
        except httpx.HTTPError as exc:
            raise self._connection_error("The connection to {provider}{where} failed ({cause}).", exc, url) from None

    def _unreachable(self, exc: httpx.HTTPError, url: httpx.URL | None) -> UpstreamConnectionError:
        return self._connection_error("Could not reach {provider}{where} ({cause}).", exc, url)

    def _connection_error(self, template: str, exc: httpx.HTTPError, url: httpx.URL | None) -> UpstreamConnectionError:
        """The error for a failed connection, saying where it went and what went wrong below httpx."""
        cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
        said = str(cause)
        message = template.format(
            provider=self.provider,
            where=f" at {_shown(url)}" if url is not None else "",
            cause=f"{type(cause).__name__}: {said}" if said else type(cause).__name__,
        )
        return UpstreamConnectionError(self.scrub_text(message), provider=self.provider)

    def _too_large(self, what: str, setting: str, limit: int) -> UpstreamResponseTooLarge:
        return UpstreamResponseTooLarge(
            f"{self.provider} sent {what} larger than {limit} bytes, the limit {setting} sets "
            f"({self._table} {setting}, or {self._env_prefix}{setting.upper()}).",
            provider=self.provider,
        )

    # -------------------------------------------------------------------------------------------- secrets

    def scrub(self, data: bytes) -> bytes:
        """`data` without the provider's key (some upstreams quote the key they were sent)."""
        secret = self._secret
        return data.replace(secret, _REDACTED) if secret and secret in data else data

    def scrub_text(self, text: str) -> str:
        """`scrub()` for text that did not come through `read()` or `stream()`: a header, an exception."""
        secret = self._secret_text
        return text.replace(secret, "[redacted]") if secret else text

    # -------------------------------------------------------------------------------------------- helpers

    async def _body(self, response: UpstreamAnswer) -> bytes:
        """A whole body, scrubbed, or the error for one over `max_response_bytes`."""
        limit = self.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self._too_large("an answer", "max_response_bytes", limit)
        first = b""  # most answers arrive in one piece, which needs no copy
        # The other pieces go into one growing buffer rather than a list: a large buffer is mapped on its own
        # and goes back to the system when freed, where thousands of small pieces would fragment the heap.
        rest = bytearray()
        async for part in response.pieces():
            if first:
                rest += part
            else:
                first = part
            if len(first) + len(rest) > limit:
                rest.clear()  # the error's traceback keeps this frame, perhaps until a garbage collection
                raise self._too_large("an answer", "max_response_bytes", limit)
        return self.scrub(first + rest if rest else first)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from a `Retry-After` header in seconds or as an HTTP date."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _HttpxAnswer:
    """An httpx transport's answer as `send()` returns it."""

    __slots__ = ("_response", "headers", "status_code")

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status_code = response.status_code
        self.headers: Mapping[str, str] = response.headers

    def pieces(self) -> AsyncIterator[bytes]:
        """The body as the transport hands it on, or decoded by httpx when it was sent compressed.

        An uncompressed body needs none of `aiter_bytes()`'s layers (a decoder, a chunker and the raw
        reader's bookkeeping, three async generators deep), which cost more than the reading.
        """
        response = self._response
        if "content-encoding" in response.headers:
            return response.aiter_bytes()
        return aiter(response.stream)  # type: ignore[arg-type]  # an async transport's answers stream asynchronously

    async def aclose(self) -> None:
        await self._response.aclose()


def _shown(url: httpx.URL) -> str:
    """A URL as an error may show it: without credentials, query or fragment."""
    return str(url.copy_with(userinfo=b"", query=None, fragment=None))


class _IdleWatch:
    """Cancels the task reading a stream once it has waited `idle` seconds for the upstream's next chunk.

    One timer serves the whole stream, re-armed only when it fires: a timer per chunk (`asyncio.timeout`)
    cost more than handling the chunk itself. When it fires, it cancels the task if it has been waiting for
    `idle` seconds, or else sets itself for when that wait, or the next one, would reach `idle`.
    """

    __slots__ = ("_handle", "_loop", "_since", "_task", "fired", "idle")

    def __init__(self, idle: float) -> None:
        self.idle = idle
        self.fired = False
        self._task: asyncio.Task[object] | None = None
        self._loop = asyncio.get_running_loop()
        self._since: float | None = None  # when the current wait began; None between waits
        self._handle = self._loop.call_at(self._loop.time() + idle, self._check)

    def waiting(self, task: asyncio.Task[object]) -> None:
        self._task = task
        self._since = self._loop.time()

    def busy(self) -> None:
        self._since = None

    def close(self) -> None:
        self._handle.cancel()

    def _check(self) -> None:
        now = self._loop.time()
        since = self._since
        if since is not None and now - since >= self.idle and self._task is not None:
            self.fired = True
            self._task.cancel()
            return
        self._handle = self._loop.call_at((now if since is None else since) + self.idle, self._check)
