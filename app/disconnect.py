"""A client that goes away takes its request's work with it: the upstream call is cancelled, its slot freed.

An ASGI server tells an application that its client left only through `receive()`, which nobody calls while
a handler waits for an upstream answer: left alone, an abandoned request keeps its upstream request running
(for up to the provider's timeout) and its target's in-flight slot taken. `CancelOnDisconnect` watches for
the disconnect once the request body has been read, and cancels the request's work when it comes, before
the first byte of an answer or during a stream alike; the request's closers (`RequestContext.on_close`)
then close whatever it opened upstream. The handler still gets the disconnect from `receive()` (a streamed
response listens for it), without two readers competing for the server's messages.

It sits on every request, so it costs next to nothing where it has nothing to do: no task until the body has
been read (a request that reads none, `/health`, needs no watching), and none until the request has been
running for `WATCH_AFTER` seconds, so one answered sooner (an error, a list, a fast upstream) is never
watched. A watched request costs one small task, and its own task is cancelled directly rather than
through a task group. A client that leaves is noticed at most `WATCH_AFTER` late, which an upstream call
of seconds does not feel.

A client that leaves while still sending its body ends the request the same way; its request log line says
499 (nginx's "client closed request"), and nothing is logged as an error.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from litestar.enums import ScopeType

from app.context import current

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

__all__ = ["CLIENT_CLOSED_REQUEST", "CancelOnDisconnect"]

CLIENT_CLOSED_REQUEST = 499
# How long a request runs, after its body is in, before its client is watched.
WATCH_AFTER = 0.02
_DISCONNECT: ReceiveMessage = {"type": "http.disconnect"}


class CancelOnDisconnect:
    """ASGI middleware: cancels the request's work when its client disconnects."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        watch = _Watch(receive)
        try:
            await self.app(scope, watch.receive, send)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            # The cancellation was ours, for a client that left: the request is over, not this task (unless
            # something else cancelled it too).
            if not watch.cancelled_request or task is None or task.uncancel() > 0:
                raise
        finally:
            watch.stop()


class _Watch:
    """One request's `receive`, and the watcher that takes over once its body has been read."""

    __slots__ = ("_receive", "_request", "_timer", "_watcher", "cancelled_request", "gone")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._request = asyncio.current_task()
        self._timer: asyncio.TimerHandle | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.gone: asyncio.Event | None = None
        self.cancelled_request = False

    async def receive(self) -> ReceiveMessage:
        if self.gone is not None:  # the body has been read: the only message left to come is the disconnect
            await self.gone.wait()
            return _DISCONNECT
        message = await self._receive()
        if message["type"] == "http.disconnect":
            _left()
        elif not message.get("more_body", False):
            self.gone = asyncio.Event()
            self._timer = asyncio.get_running_loop().call_later(WATCH_AFTER, self._start)
        return message

    def _start(self) -> None:
        self._timer = None
        self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        message = await self._receive()
        if message["type"] == "http.disconnect" and self.gone is not None:
            _left()
            self.gone.set()
            if self._request is not None and not self._request.done():
                self.cancelled_request = True
                self._request.cancel()

    def stop(self) -> None:
        """The answer is complete (or abandoned): stop watching, or never start."""
        if self._timer is not None:
            self._timer.cancel()
        if self._watcher is not None:
            self._watcher.cancel()


def _left() -> None:
    context = current()
    if not context.status:
        context.status = CLIENT_CLOSED_REQUEST
