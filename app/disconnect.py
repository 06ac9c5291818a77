"""A client that goes away takes its request's work with it: the upstream call is cancelled, its slot freed.

An ASGI server tells an application that its client left only through `receive()`, which nobody calls while
a handler waits for an upstream answer: left alone, an abandoned request keeps its upstream request running
(for up to the provider's timeout) and its target's in-flight slot taken. `CancelOnDisconnect` watches for
the disconnect once the request body has been read, and cancels the request's work when it comes, before
the first byte of an answer or during a stream alike; the request's closers (`RequestContext.on_close`)
then close whatever it opened upstream. The handler still gets the disconnect from `receive()` (a streamed
response listens for it), without two readers competing for the server's messages.

A client that leaves while still sending its body ends the request the same way; its request log line says
499 (nginx's "client closed request"), and nothing is logged as an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
from litestar.enums import ScopeType

from app.context import current

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

__all__ = ["CLIENT_CLOSED_REQUEST", "CancelOnDisconnect"]

CLIENT_CLOSED_REQUEST = 499
_DISCONNECT: ReceiveMessage = {"type": "http.disconnect"}


class CancelOnDisconnect:
    """ASGI middleware: cancels the request's work when its client disconnects."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        gone = anyio.Event()
        body_read = False
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                message = await receive()  # after the body, the only message left to come is the disconnect
                if message["type"] == "http.disconnect":
                    _left(gone)
                    group.cancel_scope.cancel()

            async def watched_receive() -> ReceiveMessage:
                nonlocal body_read
                if body_read:
                    await gone.wait()
                    return _DISCONNECT
                message = await receive()
                if message["type"] == "http.disconnect":
                    _left(gone)
                elif not message.get("more_body", False):
                    body_read = True
                    group.start_soon(watch)
                return message

            await self.app(scope, watched_receive, send)
            group.cancel_scope.cancel()  # the answer is complete: stop watching


def _left(gone: anyio.Event) -> None:
    gone.set()
    context = current()
    if not context.status:
        context.status = CLIENT_CLOSED_REQUEST
