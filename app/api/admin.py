"""The admin endpoints: target health (circuit state, latency, success rate, in flight) and its reset.

They sit behind the admin key (`app.access.admin.AdminGuard`, applied where the app is built).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post

from app.api.inject import Injected
from app.routing import HealthBoard
from app.telemetry.recent import RequestFeed
from providers.request import decode_json

__all__ = ["reset_targets", "target_health"]

_encoder = msgspec.json.Encoder()


class _Reset(msgspec.Struct, forbid_unknown_fields=True):
    target: str | None = None


_reset_decoder = msgspec.json.Decoder(_Reset)


@get("/targets")
async def target_health(board: Injected[HealthBoard]) -> Response[bytes]:
    snapshot = await board.snapshot()
    return _json({"object": "list", "data": [status.as_json() for status in snapshot]})


@post("/targets/reset", status_code=200)
async def reset_targets(
    request: Request[Any, Any, Any], board: Injected[HealthBoard], feed: Injected[RequestFeed]
) -> Response[bytes]:
    """Forget what is known of one target (`{"target": "<provider>/<model>"}`) or, with no body, of all:
    its health, and the last error the dashboard shows for it."""
    body = await request.body()
    reset = decode_json(_reset_decoder, body) if body.strip() else _Reset()
    await board.reset(reset.target)
    await feed.forget_target(reset.target)
    return _json({"reset": reset.target or "all"})


def _json(payload: Any) -> Response[bytes]:
    return Response(_encoder.encode(payload), media_type="application/json")
