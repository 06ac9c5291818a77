"""`CancelOnDisconnect` in process: what a departed client cancels, and what a quick answer never pays for.

The server side is a scripted `receive`: the request's body, then `http.disconnect` once the test says the
client has left. The end-to-end tests (`tests/e2e/test_abandoned.py`) do the same through real sockets.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from app.context import RequestContext, close, opened
from app.disconnect import CLIENT_CLOSED_REQUEST, WATCH_AFTER, CancelOnDisconnect

if TYPE_CHECKING:
    from litestar.types import Message, Receive, ReceiveMessage, Scope, Send

SCOPE: Any = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}


class Client:
    """The server's `receive` for one request: its body, then a disconnect once `leave()` is called."""

    def __init__(self) -> None:
        self.calls = 0
        self.left = asyncio.Event()

    async def receive(self) -> ReceiveMessage:
        self.calls += 1
        if self.calls == 1:
            return {"type": "http.request", "body": b"{}", "more_body": False}
        await self.left.wait()
        return {"type": "http.disconnect"}

    def leave(self) -> None:
        self.left.set()


async def serve(app: Any, client: Client) -> RequestContext:
    context = RequestContext("req-1", "POST", SCOPE["path"], time.perf_counter())
    token = opened(context)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    try:
        await CancelOnDisconnect(app)(SCOPE | {}, client.receive, send)
    finally:
        close(token)
    return context


def body_then(answer: Any) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await answer(receive)

    return app


async def test_a_request_answered_at_once_never_watches_its_client() -> None:
    client = Client()

    async def at_once(receive: Receive) -> None:
        return

    await serve(body_then(at_once), client)
    await asyncio.sleep(WATCH_AFTER * 2)  # past the moment the watch would have started

    assert client.calls == 1  # the body only: nobody waited for the disconnect


async def test_a_client_that_leaves_a_slow_request_cancels_its_work() -> None:
    client = Client()
    cancelled = asyncio.Event()

    async def waits_for_upstream(receive: Receive) -> None:
        try:
            await asyncio.Event().wait()  # an upstream that never answers
        except asyncio.CancelledError:
            cancelled.set()
            raise

    serving = asyncio.create_task(serve(body_then(waits_for_upstream), client))
    await asyncio.sleep(WATCH_AFTER * 2)
    client.leave()
    context = await asyncio.wait_for(serving, 2)  # the request ends, and its task is not cancelled

    assert cancelled.is_set()
    assert context.status == CLIENT_CLOSED_REQUEST


async def test_a_client_that_leaves_at_once_is_noticed_once_the_watch_starts() -> None:
    client = Client()
    client.leave()  # gone as soon as its body is in

    async def waits_for_upstream(receive: Receive) -> None:
        await asyncio.Event().wait()

    started = time.monotonic()
    context = await asyncio.wait_for(serve(body_then(waits_for_upstream), client), 2)

    assert WATCH_AFTER <= time.monotonic() - started < 1
    assert context.status == CLIENT_CLOSED_REQUEST


async def test_a_task_of_the_app_listening_for_the_disconnect_still_hears_it() -> None:
    client = Client()
    heard: list[str] = []

    async def listens(receive: Receive) -> None:
        # As a streamed response does: a task of its own listens while the request's task sends.
        async def listen() -> None:
            heard.append((await receive())["type"])

        listener = asyncio.create_task(listen())
        try:
            await asyncio.Event().wait()
        finally:
            await listener

    serving = asyncio.create_task(serve(body_then(listens), client))
    await asyncio.sleep(WATCH_AFTER * 2)
    client.leave()
    await asyncio.wait_for(serving, 2)

    assert heard == ["http.disconnect"]
    assert client.calls == 2  # one reader of the server's messages, not two competing
