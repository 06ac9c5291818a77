"""The scripted upstream: one ASGI server on 127.0.0.1 that plays every registered dialect.

Each dialect is served under its own path prefix. The server records everything it receives
(`Upstream.received`, with the outcome), counts attempts for the scenarios that fail only at first, and
records the end of each stream with whether the client went away first (`Upstream.stream_ends`).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import uvicorn

from tests.e2e.upstreams.misbehaviour import MISBEHAVIOURS
from tests.e2e.upstreams.scenarios import Attempt, answer, delay, failure, stream_plan

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from tests.e2e.upstreams.dialect import Dialect
    from tests.e2e.upstreams.scenarios import Answer, Asked

    Receive = Callable[[], Awaitable[dict[str, Any]]]
    Send = Callable[[dict[str, Any]], Awaitable[None]]

__all__ = ["Received", "StreamEnd", "Upstream"]


@dataclass
class Received:
    dialect: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    asked: Asked | None = None  # what a chat request asked for, read in its dialect
    outcome: str = ""  # "ok", or the error status sent
    call_ids: tuple[str, ...] = ()  # the ids of the tool calls answered

    @property
    def marker(self) -> str:
        """The text of the last user message: what tests use to tell their requests apart."""
        return self.asked.marker if self.asked else ""


@dataclass
class StreamEnd:
    model: str
    disconnected: bool


class Upstream:
    def __init__(self, dialects: Iterable[Dialect], host: str = "127.0.0.1") -> None:
        self.dialects = {dialect.name: dialect for dialect in dialects}
        self.host = host
        self.port = 0
        self.received: list[Received] = []
        self.stream_ends: list[StreamEnd] = []
        self.switched_down = False
        self._attempts: dict[tuple[str, str], int] = {}
        self._per_model: dict[str, int] = {}

    def base_url(self, dialect: str) -> str:
        return f"http://{self.host}:{self.port}{self.dialects[dialect].prefix}"

    def last(self, dialect: str | None = None) -> Received:
        matching = [r for r in self.received if dialect is None or r.dialect == dialect]
        assert matching, "the upstream received nothing"
        return matching[-1]

    # ------------------------------------------------------------------------------------------ server

    def start(self) -> None:
        config = uvicorn.Config(
            self._asgi, host=self.host, port=self.port, log_level="warning", lifespan="off", interface="asgi3"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the scripted upstream did not start"
            time.sleep(0.02)
        port: int = self._server.servers[0].sockets[0].getsockname()[1]
        self.port = port

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    async def _asgi(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        path: str = scope["path"]
        body = await _read_body(receive)
        dialect = next((d for d in self.dialects.values() if path.startswith(d.prefix)), None)
        if dialect is None:
            return await _send_json(send, 404, {"error": {"message": "no such dialect"}})
        route = path[len(dialect.prefix) :]
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        if route == dialect.models_path and scope["method"] == "GET":
            self.received.append(Received(dialect.name, route, headers, {}))
            return await _send_json(send, 200, dialect.models())
        if route != dialect.chat_path:
            return await _send_json(send, 404, {"error": {"message": f"no route {route}"}})
        request = json.loads(body)
        asked = dialect.read(request, headers)
        received = Received(dialect.name, route, headers, request, asked)
        self.received.append(received)
        attempt = self._count(asked)
        if wait := delay(asked):
            await asyncio.sleep(wait)
        if asked.scenario in MISBEHAVIOURS:
            received.outcome = asked.scenario
            return await MISBEHAVIOURS[asked.scenario](asked, send)
        failed = failure(attempt)
        if failed is not None:
            received.outcome = str(failed.status)
            extra = {"retry-after": failed.retry_after} if failed.retry_after else {}
            return await _send_json(send, failed.status, dialect.error(failed), extra)
        received.outcome = "ok"
        answered = answer(attempt, response_id=dialect.response_id(), created=int(time.time()), call_id=dialect.call_id)
        received.call_ids = tuple(call.id for call in answered.calls)
        if asked.stream:
            return await self._stream(dialect, answered, send, receive)
        await _send(send, 200, dialect.completion(answered))

    def _count(self, asked: Asked) -> Attempt:
        key = (asked.marker, asked.model)
        self._attempts[key] = number = self._attempts.get(key, 0) + 1
        self._per_model[asked.model] = count = self._per_model.get(asked.model, 0) + 1
        return Attempt(asked, number, count, self.switched_down)

    async def _stream(self, dialect: Dialect, answered: Answer, send: Send, receive: Receive) -> None:
        plan = stream_plan(answered, in_band_failures="stream" in dialect.in_band_failures)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        disconnected = False
        try:
            for frame in dialect.stream(answered, plan):
                await send({"type": "http.response.body", "body": frame.encode(), "more_body": True})
                await asyncio.sleep(0)
            if plan.end == "hang":
                # Wait for the client to go away; a live router must not leave this hanging.
                message = await receive()
                disconnected = message["type"] == "http.disconnect"
                return
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.stream_ends.append(StreamEnd(answered.scenario, disconnected))


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        body += chunk
        if not message.get("more_body"):
            return body


async def _send_json(send: Send, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    await _send(send, status, json.dumps(payload).encode(), headers)


async def _send(send: Send, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    raw_headers = [(b"content-type", b"application/json")]
    raw_headers += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
