"""Request intake: how long a request's body may take to arrive, and how many requests a worker serves at once.

A client that sends its headers, then its body a byte at a time or never, would hold its request open for as
long as it liked, and a thousand such clients used to stop a worker. `RequestIntake` receives each body
itself, within `body_timeout` seconds (408 otherwise), and only then counts the request against
`max_requests_in_flight` (503 while the worker is full). A request still waiting for its body thus costs one
connection, which the server bounds, but takes no place among the requests being served: slow clients cannot
crowd out the others. `/health` and `/ready` are never refused, so a busy worker still answers its probes.

Connections are the server's (granian, configured in `app.cli`): it closes one whose headers take longer than
`header_timeout`, and each worker accepts at most `max_connections` at once. A connection that sends nothing
at all is bounded only by that limit, which is why the README puts a reverse proxy in front of a router that
faces the internet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.enums import ScopeType

from app.errors import send_error
from providers.deadlines import Deadlines
from providers.errors import RequestTimeout, RouterOverloaded

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

    from app.settings import Settings

__all__ = ["RequestIntake"]

_PROBES = frozenset(("/health", "/ready"))
_CONTENT_LENGTH = b"content-length"


class RequestIntake:
    """ASGI middleware: receives each request's body within a deadline, then admits it if the worker has room."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.body_timeout = settings.body_timeout
        self.max_body = settings.max_request_bytes
        self.max_in_flight = settings.max_requests_in_flight
        self.in_flight = 0
        self._deadlines = Deadlines()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["path"] in _PROBES or _declared_size(scope) > self.max_body:
            # A body declared too large is refused (413) before it is read, by the app.
            await self.app(scope, receive, send)
            return
        try:
            with self._deadlines.within(self.body_timeout):
                body = await _receive_body(receive, self.max_body)
        except TimeoutError:
            # The rest of the body is never read: the server closes the connection after this answer.
            message = f"The request body did not arrive within {self.body_timeout:g} s (body_timeout)."
            await send_error(send, RequestTimeout(message))
            return
        if body is None:
            return  # the client left before its body was in: nobody to answer
        if self.in_flight >= self.max_in_flight:
            message = (
                f"The router is serving as many requests as it takes at once ({self.max_in_flight}, "
                "max_requests_in_flight); try again shortly."
            )
            await send_error(send, RouterOverloaded(message, retry_after=1))
            return
        self.in_flight += 1
        try:
            await self.app(scope, _replay(body, receive), send)
        finally:
            self.in_flight -= 1


async def _receive_body(receive: Receive, limit: int) -> list[ReceiveMessage] | None:
    """The body's messages as they came (none copied), or None if the client left; stops past `limit` bytes."""
    messages: list[ReceiveMessage] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None  # http.disconnect
        messages.append(message)
        size += len(message.get("body", b""))
        # Past the limit the app answers 413 from what it has been given, without reading further.
        if not message.get("more_body", False) or size > limit:
            return messages


def _replay(messages: list[ReceiveMessage], receive: Receive) -> Receive:
    """The app's `receive`: the body already read, then the server's own (which reports a disconnect)."""
    pending = iter(messages)

    async def replayed() -> ReceiveMessage:
        message = next(pending, None)
        return message if message is not None else await receive()

    return replayed


def _declared_size(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == _CONTENT_LENGTH:
            return int(value) if value.isdigit() else 0
    return 0
