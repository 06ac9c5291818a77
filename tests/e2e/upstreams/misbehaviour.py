"""Answers no real upstream should give, the same whatever dialect was asked: what the router must survive.

    plain-text-key  200 `text/plain` quoting the key it was sent
    cut-key         500 `text/plain` whose 500th character falls inside the key it quotes
    oversized       a 33 MiB answer (a stream: one 5 MiB event), past the router's default limits
    endless-line    a stream whose first line never ends (the upstream gives up after 16 MiB)

Each is sent without a Content-Length, piece by piece, as a proxy passing on an answer would.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from tests.e2e.upstreams.scenarios import Asked

    Send = Callable[[dict[str, Any]], Awaitable[None]]

__all__ = ["MISBEHAVIOURS"]

_PIECE = 1 << 16


async def _send_pieces(send: Send, status: int, content_type: bytes, pieces: Iterable[bytes]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type)]})
    for piece in pieces:
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _plain_text_key(asked: Asked, send: Send) -> None:
    page = f"Proxy error: the request with Authorization: Bearer {asked.key} was not forwarded."
    await _send_pieces(send, 200, b"text/plain", [page.encode()])


async def _cut_key(asked: Asked, send: Send) -> None:
    page = "-" * (500 - len(asked.key) // 2) + f" {asked.key} was refused."
    await _send_pieces(send, 500, b"text/plain", [page.encode()])


async def _oversized(asked: Asked, send: Send) -> None:
    answer: dict[str, Any] = {"id": "oversized", "created": 1, "model": asked.model}
    if asked.stream:
        delta = {"role": "assistant", "content": "x" * (5 << 20)}
        event = {**answer, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
        await _send_pieces(send, 200, b"text/event-stream", [b"data: %s\n\n" % json.dumps(event).encode()])
        return
    message = {"role": "assistant", "content": "x" * (33 << 20)}
    body = json.dumps({**answer, "object": "chat.completion", "choices": [{"index": 0, "message": message}]})
    data = body.encode()
    await _send_pieces(send, 200, b"application/json", (data[i : i + _PIECE] for i in range(0, len(data), _PIECE)))


async def _endless_line(asked: Asked, send: Send) -> None:
    await _send_pieces(send, 200, b"text/event-stream", [b"data: ", *[b"x" * _PIECE] * 256])


MISBEHAVIOURS: dict[str, Callable[[Asked, Send], Awaitable[None]]] = {
    "plain-text-key": _plain_text_key,
    "cut-key": _cut_key,
    "oversized": _oversized,
    "endless-line": _endless_line,
}
