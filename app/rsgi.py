"""The router on granian's native interface (RSGI): the ASGI application, with a cheaper channel to the server.

Under ASGI every `receive()` and `send()` is a future that crosses from Python into the server and back, and
each message is a dict the server builds or parses. RSGI hands the application the request as one object and
lets it answer in one call: `protocol()` reads the body, `response_bytes()` sends a whole answer without a
future, and `response_stream()` opens a stream the answer's pieces are written to. Granian also serves RSGI
from a single-threaded runtime in each worker, where ASGI needs a multi-threaded one.

`RSGIServer` keeps the application an ordinary ASGI app, so every middleware, the framework and the tests
see ASGI as before; it translates at the edge:

- the request: an ASGI scope from the RSGI one (headers as latin-1 bytes, `client` and `server` as
  (host, port)); granian leaves out a header whose value is not ASCII text, which no field the router reads
  may hold. Its body from `protocol()` in one piece when its length is declared, else chunk by chunk;
  then a `receive()` that answers `http.disconnect` once the client has left or the answer is complete, as
  an ASGI server's does.
- the answer: `http.response.start` is kept until the first body message; a body that is the whole answer
  goes out with `response_bytes()`, anything else through a stream. A write to a client that has gone
  raises `ConnectionResetError`, as under ASGI servers. When the application returns, the stream is let go:
  the server ends it when its transport is freed.
- the lifespan: `__rsgi_init__` / `__rsgi_del__` run the app's ASGI lifespan on the worker's loop before it
  serves and after it stops; a failed startup stops the worker. What startup built is then frozen out of
  the garbage collector's reach (`gc.freeze()`).
- a stop while a worker loads: granian forks its workers from the server process, whose signal handlers they
  inherit, and gives a worker handlers of its own only once it has loaded the app. A SIGINT or SIGTERM in
  between was lost, and a server stopped as it started (Ctrl-C just after `serve`, a service manager's
  SIGTERM to its process group) waited out `shutdown_timeout` before killing its workers. `hold_stops()`
  keeps the first such signal from the fork on, and it is raised again as the worker starts serving: the
  worker stops at once.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from typing import TYPE_CHECKING, Any, cast

from granian._granian import RSGIProtocolClosed as ProtocolClosed  # what `granian.rsgi` names ProtocolClosed

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from granian._granian import RSGIHTTPProtocol as HTTPProtocol
    from granian._granian import RSGIHTTPStreamTransport
    from granian.rsgi import Scope as RSGIScope
    from litestar.types import (
        ASGIApp,
        HTTPResponseBodyEvent,
        HTTPResponseStartEvent,
        HTTPScope,
        Message,
        ReceiveMessage,
    )

__all__ = ["LifespanFailed", "RSGIServer", "hold_stops"]

log = logging.getLogger(__name__)

_ASGI = {"version": "3.0", "spec_version": "2.3"}
_DISCONNECT: ReceiveMessage = {"type": "http.disconnect"}
_HTTP_VERSIONS = {"1": "1.0"}  # RSGI's names that are not ASGI's
_STOPS = (signal.SIGINT, signal.SIGTERM)
_held_stop: int | None = None  # the first stop signal the worker received while it loaded


def hold_stops() -> None:
    """Until the worker serves, keep the first SIGINT or SIGTERM it receives, to raise it again then
    (`RSGIServer.__rsgi_init__`). Run in each worker as it is forked, and again as it loads the app (for a
    worker spawned rather than forked)."""
    for signum in _STOPS:
        signal.signal(signum, _hold)


def _hold(signum: int, frame: object) -> None:
    global _held_stop
    if _held_stop is None:
        _held_stop = signum


def _raise_held_stop() -> None:
    # One signal: granian stops a worker on either, and a second one before its server has taken the first
    # would block the worker's loop.
    global _held_stop
    held, _held_stop = _held_stop, None
    if held is not None:
        signal.raise_signal(held)


class LifespanFailed(RuntimeError):
    """The application's startup or shutdown failed; the worker cannot serve."""


class RSGIServer:
    """An ASGI application served over RSGI: granian calls `__rsgi__` for each request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._lifespan: _Lifespan | None = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._lifespan = _Lifespan(self.app)
        try:
            loop.run_until_complete(self._lifespan.startup())
        except LifespanFailed as exc:
            log.error("%s", exc)  # the worker cannot serve: it stops, as it would under ASGI
            raise SystemExit(1) from exc
        # What the worker built to serve lives as long as it does: out of the collector's way, the oldest
        # generation's collections no longer walk the whole application (about 110,000 objects, tens of
        # milliseconds a collection).
        gc.collect()
        gc.freeze()
        # A stop the worker received while it loaded, raised again as the worker's loop starts serving: granian's
        # handlers are in place, and its server takes their signal.
        loop.call_soon(_raise_held_stop)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._lifespan is not None:
            try:
                loop.run_until_complete(self._lifespan.shutdown())
            except LifespanFailed as exc:
                log.error("%s", exc)  # the worker is stopping anyway; what failed is in the log

    async def __rsgi__(self, scope: RSGIScope, protocol: HTTPProtocol) -> None:
        if scope.proto != "http":  # websockets are off in the server; nothing else is defined
            return
        exchange = _Exchange(protocol, scope)
        try:
            await self.app(exchange.scope, exchange.receive, exchange.send)
        finally:
            exchange.finish()


class _Exchange:
    """One request: its ASGI scope, and the `receive` and `send` the application talks through."""

    __slots__ = (
        "_body_read",
        "_chunks",
        "_complete",
        "_gone",
        "_leaving",
        "_protocol",
        "_start",
        "_stream",
        "answered",
        "scope",
    )

    def __init__(self, protocol: HTTPProtocol, rsgi: RSGIScope) -> None:
        self._protocol = protocol
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in rsgi.headers.items()]
        path = rsgi.path
        self.scope: HTTPScope = {  # type: ignore[typeddict-item]  # the keys a server sets (no app, no state)
            "type": "http",
            "asgi": _ASGI,
            "http_version": _HTTP_VERSIONS.get(rsgi.http_version, rsgi.http_version),
            "method": rsgi.method,
            "scheme": rsgi.scheme,
            "path": path,
            "raw_path": path.encode("utf-8"),
            "root_path": "",
            "query_string": rsgi.query_string.encode("utf-8"),  # granian decodes the raw query as UTF-8
            "headers": headers,
            "client": _address(rsgi.client),
            "server": _address(rsgi.server),
        }
        self._body_read = False
        self._gone = False  # the client is known to have left
        self._complete = False  # the whole answer has been handed to the server
        self._leaving: asyncio.Future[None] | None = None  # what a `receive()` after the body waits on
        self._chunks: AsyncIterator[bytes] | None = None
        self._start: HTTPResponseStartEvent | None = None
        self._stream: RSGIHTTPStreamTransport | None = None
        self.answered = False

    async def receive(self) -> ReceiveMessage:
        if self._body_read:
            if not (self._gone or self._complete):
                await self._until_over()
            return _DISCONNECT
        try:
            if self._chunks is None and _declares_length(self.scope["headers"]):
                # The usual request: its length known, its body read in one call (the app checked that length
                # against its limit before asking).
                body = await self._protocol()
                self._body_read = True
                return {"type": "http.request", "body": body, "more_body": False}
            if self._chunks is None:
                self._chunks = aiter(self._protocol)
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            self._body_read = True
            return {"type": "http.request", "body": b"", "more_body": False}
        except ProtocolClosed:  # the client left while sending its body
            self._body_read = self._gone = True
            return _DISCONNECT
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def _until_over(self) -> None:
        """Wait until the client leaves or the answer is complete: the server reports only the first, and ASGI
        reports both as `http.disconnect` (a streaming handler listens for it to end)."""
        self._leaving = leaving = asyncio.get_running_loop().create_future()
        watcher = asyncio.ensure_future(self._protocol.client_disconnect())
        watcher.add_done_callback(lambda _: _settle(leaving))
        try:
            await leaving
        finally:
            watcher.cancel()
            self._leaving = None
        self._gone = not self._complete

    def _completed(self) -> None:
        self._complete = True
        if self._leaving is not None:
            _settle(self._leaving)

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self._start = cast("HTTPResponseStartEvent", message)
            return
        if kind != "http.response.body":
            return  # trailers and extensions this server does not offer are never asked for
        message = cast("HTTPResponseBodyEvent", message)
        body = message.get("body", b"")
        if self._stream is None:
            start = self._start
            if start is None or self.answered:
                raise RuntimeError("an ASGI response body before its start, or after its end")
            headers = _str_headers(start)
            self.answered = True
            if not message.get("more_body", False):
                self._protocol.response_bytes(start["status"], headers, body)
                self._completed()
                return
            self._stream = self._protocol.response_stream(start["status"], headers)
        if body:
            try:
                await self._stream.send_bytes(body)
            except ProtocolClosed as exc:
                self._gone = True
                raise ConnectionResetError("the client left during the answer") from exc
        if not message.get("more_body", False):
            self._completed()

    def finish(self) -> None:
        """The application returned: an answer it started but never gave a body is sent empty, and a stream
        is let go. The server ends a stream when its transport is freed, and the application's objects (a
        request keeps its scope, which reaches this exchange) may hold this one until a garbage collection."""
        if not self.answered and self._start is not None:
            self._protocol.response_empty(self._start["status"], _str_headers(self._start))
            self.answered = True
        self._stream = None
        self._completed()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _str_headers(start: HTTPResponseStartEvent) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in start.get("headers", ())]


def _declares_length(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    return any(name == b"content-length" for name, _ in headers)


def _address(value: str) -> tuple[str, int] | None:
    """RSGI's "host:port" (an IPv6 host in brackets) as ASGI's (host, port)."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


class _Lifespan:
    """Drives the application's ASGI lifespan: startup before the worker serves, shutdown after."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        await self._step("startup")

    async def shutdown(self) -> None:
        if self._task is None or self._task.done():
            return
        await self._step("shutdown")
        await self._task

    async def _step(self, phase: str) -> None:
        await self._inbox.put({"type": f"lifespan.{phase}"})
        answer = await self._outbox.get()
        if answer["type"] != f"lifespan.{phase}.complete":
            raise LifespanFailed(f"the application's {phase} failed: {answer.get('message', '')}")

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": _ASGI, "state": {}}
        try:
            await self._app(scope, self._inbox.get, self._outbox.put)  # type: ignore[arg-type]
        except Exception as exc:  # reported to whichever phase waits, as the failure it is
            await self._outbox.put({"type": "lifespan.failed", "message": f"{type(exc).__name__}: {exc}"})
