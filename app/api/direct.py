"""The hot endpoints, answered straight on the ASGI channel, below the framework's per-request machinery.

Model requests are the router's whole load, and each one through the framework paid for routing, parameter
parsing and injection, response objects and, for a stream, a task group with a disconnect listener of its
own: tens of microseconds of CPU a request, on a path whose own work is mostly copying bytes. An endpoint
registered here is a plain coroutine from the request's headers and body to a `Reply`; `DirectRoutes`
reads the body, calls it, and sends the reply, and passes every other request to the framework untouched.

What the framework did for these paths, this does the same way: the body limit (`max_request_bytes`, 413),
405 for another method, every error rendered by `app.errors` (in the dialect of the path), the route's
template for metrics, and the same response headers. A departed client is handled a layer out
(`app.disconnect`), for these endpoints as for every other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from litestar import Response
from litestar.enums import ScopeType
from litestar.response import Stream

from app.errors import failure, send_error
from providers.errors import MethodNotAllowed, RequestTooLarge

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator

    from litestar.types import ASGIApp, Receive, Scope, Send

__all__ = ["DirectRoutes", "Endpoint", "Headers", "JsonReply", "Reply", "StreamReply", "framework_response"]

_CONTENT_LENGTH = b"content-length"
_JSON = (b"content-type", b"application/json")
_SSE = (b"content-type", b"text/event-stream; charset=utf-8")
_SSE_HEADERS = ((b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no"))


class Headers(Mapping[str, str]):
    """A request's headers as an endpoint reads them: by lower-case name, first value, decoded on lookup."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        self._raw = raw

    def __getitem__(self, name: str) -> str:
        wanted = name.encode("latin-1")
        for key, value in self._raw:
            if key == wanted:
                return value.decode("latin-1")
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(key.decode("latin-1") for key, _ in self._raw))

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(slots=True)
class JsonReply:
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    status: int = 200


@dataclass(slots=True)
class StreamReply:
    """Server-sent events; the frames' iterator owns its failures (an error event ends a started stream)."""

    frames: AsyncIterator[bytes]
    headers: Mapping[str, str] = field(default_factory=dict)


Reply = JsonReply | StreamReply


class Endpoint(Protocol):
    async def __call__(self, headers: Headers, body: bytes) -> Reply: ...


class DirectRoutes:
    """ASGI middleware: answers `POST` on its paths itself; everything else goes on to `app`."""

    def __init__(self, app: ASGIApp, routes: Mapping[str, Endpoint], *, max_body: int) -> None:
        self.app = app
        self.routes = dict(routes)
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.routes.get(scope["path"]) if scope["type"] == ScopeType.HTTP else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], str(scope.get("method", ""))
        scope["path_template"] = path  # what the framework would set: the label requests are counted under
        started = False
        try:
            if method != "POST":
                raise MethodNotAllowed(f"The endpoint {path} does not accept {method}.")
            body = await self._body(scope, receive)
            reply = await endpoint(Headers(scope["headers"]), body)
            started = True
            await _send(send, reply)
        except Exception as exc:  # every failure becomes an answer, as the framework's handler made it
            if not started:
                await send_error(send, failure(exc, method, path))
                return
            raise

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        for name, value in scope["headers"]:
            if name == _CONTENT_LENGTH and value.isdigit() and int(value) > self.max_body:
                raise _too_large()
        pieces: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client left: what reading the body raises, `failure` turns into a quiet 499.
                raise ConnectionResetError("the client left before its request was read")
            piece = message.get("body", b"")
            size += len(piece)
            if size > self.max_body:
                raise _too_large()
            pieces.append(piece)
            if not message.get("more_body", False):
                return pieces[0] if len(pieces) == 1 else b"".join(pieces)


async def _send(send: Send, reply: Reply) -> None:
    extra = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in reply.headers.items()]
    if isinstance(reply, JsonReply):
        headers = [*extra, _JSON, (_CONTENT_LENGTH, b"%d" % len(reply.body))]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body, "more_body": False})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [*_SSE_HEADERS, *extra, _SSE]})
    async for frame in reply.frames:
        await send({"type": "http.response.body", "body": frame, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def framework_response(reply: Reply) -> Response[bytes] | Stream:
    """`reply` as a framework handler returns it: for an endpoint also served behind the framework's guards
    (the dashboard's playground is the chat endpoint, for the admin key)."""
    if isinstance(reply, JsonReply):
        return Response(reply.body, status_code=reply.status, media_type="application/json", headers=reply.headers)
    headers = {name.decode(): value.decode() for name, value in _SSE_HEADERS} | dict(reply.headers)
    return Stream(reply.frames, media_type=_SSE[1].decode(), headers=headers)


def _too_large() -> RequestTooLarge:
    return RequestTooLarge("The request body is larger than this router accepts (max_request_bytes).")
