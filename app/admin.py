"""The admin endpoints: target health (circuit state, latency, success rate, in flight) and its reset.

They need `Authorization: Bearer <admin_key>`, with the key from the settings (`LLM_ROUTER_ADMIN_KEY`);
without a configured key they are disabled.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, get, post

from app.errors import error_body
from app.services import services

if TYPE_CHECKING:
    from app.routing import TargetStatus

__all__ = ["authorise", "reset_targets", "target_health"]

_encoder = msgspec.json.Encoder()


class _Reset(msgspec.Struct, forbid_unknown_fields=True):
    target: str | None = None


@get("/admin/targets")
async def target_health(request: Request[Any, Any, Any]) -> Response[bytes]:
    if (denied := authorise(request)) is not None:
        return denied
    snapshot = await services(request).board.snapshot()
    return _json({"object": "list", "data": [_describe(status) for status in snapshot]})


@post("/admin/targets/reset", status_code=200)
async def reset_targets(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Forget what is known of one target (`{"target": "<provider>/<model>"}`) or, with no body, of all."""
    if (denied := authorise(request)) is not None:
        return denied
    body = await request.body()
    try:
        reset = msgspec.json.decode(body, type=_Reset) if body.strip() else _Reset()
    except msgspec.DecodeError as exc:
        return _error(400, f"Invalid reset request: {exc}.", "invalid_request_error", "invalid_value")
    await services(request).board.reset(reset.target)
    return _json({"reset": reset.target or "all"})


def authorise(request: Request[Any, Any, Any]) -> Response[bytes] | None:
    """None when the request carries the admin key; otherwise the response that refuses it."""
    key = services(request).settings.admin_key
    if key is None:
        return _error(
            403,
            "The admin endpoints are disabled: set LLM_ROUTER_ADMIN_KEY.",
            "permission_error",
            "admin_disabled",
        )
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    expected = key.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected):
        return _error(401, "A valid admin key is required.", "authentication_error", "invalid_api_key")
    return None


def _describe(status: TargetStatus) -> dict[str, Any]:
    return {
        "target": status.target,
        "state": str(status.state),
        "in_flight": status.in_flight,
        "latency_ms": round(status.latency * 1000, 1) if status.latency is not None else None,
        "success_rate": round(status.success_rate, 3),
        "consecutive_failures": status.consecutive_failures,
        "available_in_s": round(status.available_in, 1),
        "attempts": status.attempts,
        "failures": status.failures,
    }


def _json(payload: Any) -> Response[bytes]:
    return Response(_encoder.encode(payload), media_type="application/json")


def _error(status: int, message: str, type_: str, code: str) -> Response[bytes]:
    return Response(error_body(message, type_, None, code), status_code=status, media_type="application/json")
