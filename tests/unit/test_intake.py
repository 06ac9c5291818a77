"""Request intake: a body that does not arrive in time gets 408, a full worker 503, and slow bodies crowd no one."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from app.intake import RequestIntake
from app.settings import load_settings

from .support import build_app

if TYPE_CHECKING:
    from collections.abc import Coroutine

    import httpx

    Message = dict[str, Any]

CHAT = b'{"model": "mock/text", "messages": [{"role": "user", "content": "Hi"}]}'


def scope(path: str = "/v1/chat/completions", content_length: int | None = None) -> dict[str, Any]:
    headers = [(b"content-type", b"application/json")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    return {"type": "http", "method": "POST", "path": path, "headers": headers}


class Client:
    """One client's side of a request: the body it sends, piece by piece, and what comes back."""

    def __init__(self, *pieces: bytes, stalls: bool = False, leaves: bool = False) -> None:
        self.pending: list[Message] = [
            {"type": "http.request", "body": piece, "more_body": stalls or index < len(pieces) - 1}
            for index, piece in enumerate(pieces)
        ]
        if leaves:
            self.pending.append({"type": "http.disconnect"})
        self.received = 0
        self.sent: list[Message] = []
        self.gone = asyncio.Event()

    async def receive(self) -> Message:
        self.received += 1
        if self.pending:
            return self.pending.pop(0)
        await self.gone.wait()  # a stalled body: nothing more until the client goes away
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int | None:
        starts = [message["status"] for message in self.sent if message["type"] == "http.response.start"]
        return starts[0] if starts else None

    def error(self) -> dict[str, Any]:
        body = b"".join(message.get("body", b"") for message in self.sent if message["type"] == "http.response.body")
        error: dict[str, Any] = json.loads(body)["error"]
        return error


class App:
    """The app behind the intake: records the bodies it read, and holds each request until released."""

    def __init__(self, *, holds: bool = False) -> None:
        self.bodies: list[bytes] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        if not holds:
            self.release.set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        self.entered.set()
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok", "more_body": False})


def intake(app: Any, **settings: Any) -> Any:
    return RequestIntake(app, load_settings(**settings))


def request(
    handler: Any, client: Client, path: str = "/v1/chat/completions", **headers: Any
) -> Coroutine[Any, Any, None]:
    """`handler` (the intake, or the whole app) serving `client`'s request."""
    return handler(scope(path, **headers), client.receive, client.send)  # type: ignore[no-any-return]


async def test_a_body_that_does_not_arrive_in_time_gets_408_in_openai_shape() -> None:
    app, client = App(), Client(b'{"model"', stalls=True)

    await request(intake(app, body_timeout=0.05), client)

    assert client.status == 408
    assert client.error() == {
        "message": "The request body did not arrive within 0.05 s (body_timeout).",
        "type": "invalid_request_error",
        "param": None,
        "code": "request_timeout",
    }
    assert app.bodies == []


async def test_the_app_reads_the_body_as_it_came_and_then_hears_of_a_disconnect() -> None:
    client = Client(CHAT[:10], CHAT[10:30], CHAT[30:])
    seen: list[Message] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.extend([await receive() for _ in range(3)])
        client.gone.set()
        seen.append(await receive())

    await request(intake(app), client)

    assert b"".join(message["body"] for message in seen[:3]) == CHAT
    assert seen[3] == {"type": "http.disconnect"}


async def test_a_full_worker_answers_503_and_still_its_probes() -> None:
    app = App(holds=True)
    guard = intake(app, max_requests_in_flight=1)
    first = Client(CHAT)
    serving = asyncio.create_task(request(guard, first))
    await app.entered.wait()

    refused, probe = Client(CHAT), Client(b"")
    await request(guard, refused)
    probing = asyncio.create_task(request(guard, probe, "/health"))
    app.release.set()
    await asyncio.gather(serving, probing)

    assert refused.status == 503
    assert (b"retry-after", b"1") in refused.sent[0]["headers"]
    assert refused.error()["code"] == "server_overloaded"
    assert "max_requests_in_flight" in refused.error()["message"]
    assert (first.status, probe.status) == (200, 200)

    again = Client(CHAT)
    await request(guard, again)
    assert again.status == 200  # the place is given back when a request ends


async def test_requests_waiting_for_their_body_take_no_place() -> None:
    app = App()
    guard = intake(app, max_requests_in_flight=1)
    slow = [Client(b"{", stalls=True) for _ in range(5)]
    waiting = [asyncio.create_task(request(guard, each)) for each in slow]

    prompt = Client(CHAT)
    await request(guard, prompt)

    assert prompt.status == 200
    assert app.bodies == [CHAT]
    for each in slow:
        each.gone.set()
    await asyncio.gather(*waiting)
    assert [each.sent for each in slow] == [[]] * 5  # a client that left is not answered


async def test_a_body_over_the_limit_is_read_no_further(http: httpx.AsyncBaseTransport) -> None:
    app = build_app(http, max_request_bytes=1024)
    client = Client(*[b"x" * 600] * 5)

    await request(app, client)

    assert client.status == 413
    assert client.received == 2  # the first two pieces pass the limit: the rest is never read


async def test_a_body_declared_over_the_limit_is_refused_before_it_is_read(http: httpx.AsyncBaseTransport) -> None:
    app = build_app(http, max_request_bytes=1024)
    client = Client(b"x", stalls=True)

    await request(app, client, content_length=1 << 30)

    assert client.status == 413
    assert client.error()["code"] == "request_too_large"
