"""The one place errors become what a client sees, for every endpoint and every way of answering.

Every failure is, or is first turned into, an error from the tree in `providers.errors`, and rendered by
`render_error` as OpenAI's envelope, `{"error": {"message", "type", "param", "code"}}`, with the status a
client can act on, `Retry-After` when waiting helps, and `x-should-retry: false` where sending the same
request again cannot help (OpenAI's SDKs read it and otherwise retry every 5xx). The same rendering serves a
plain HTTP answer (`error_response`), the client-key gate below the framework (`send_error`), an error event
in a chat stream (`ErrorRendering.body`) and the Responses API's `error` event and failed response
(`responses_error_code`). Anything unexpected is logged with its traceback and answered as an
`InternalError`: no stack trace ever reaches a client.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Response
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotFoundException

from app.context import current
from app.disconnect import CLIENT_CLOSED_REQUEST
from providers.errors import (
    ClientClosedRequest,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    RequestTooLarge,
    RouteNotFound,
    RouterError,
)

if TYPE_CHECKING:
    from litestar import Request
    from litestar.types import Send

__all__ = [
    "ErrorRendering",
    "as_router_error",
    "error_response",
    "exception_handlers",
    "render_error",
    "responses_error_code",
    "send_error",
]

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()
_JSON = (b"content-type", b"application/json")


class _Envelope(msgspec.Struct):
    message: str
    type: str
    param: str | None
    code: str | None


class _ErrorEnvelope(msgspec.Struct):
    error: _Envelope


@dataclass(frozen=True, slots=True)
class ErrorRendering:
    """An error as the client will see it: status, headers and the JSON envelope."""

    status: int
    headers: dict[str, str]
    body: bytes


def render_error(exc: RouterError) -> ErrorRendering:
    """Render an error of the tree: the one function every endpoint's errors go through."""
    headers: dict[str, str] = {}
    if exc.retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(exc.retry_after)))
    if not exc.retryable and exc.http_status >= 500:
        headers["x-should-retry"] = "false"
    body = _encoder.encode(_ErrorEnvelope(_Envelope(exc.message, exc.type, exc.param, exc.code)))
    return ErrorRendering(exc.http_status, headers, body)


def as_router_error(exc: BaseException, method: str = "", path: str = "") -> RouterError:
    """Any exception as an error of the tree; an unexpected one is logged with its traceback here."""
    if isinstance(exc, RouterError):
        return exc
    # The framework's own refusals, before any handler ran.
    if isinstance(exc, NotFoundException):
        return RouteNotFound(f"Unknown request URL: {method} {path}.")
    if isinstance(exc, MethodNotAllowedException):
        return MethodNotAllowed(f"The endpoint {path} does not accept {method}.")
    if isinstance(exc, HTTPException) and exc.status_code == 413:
        return RequestTooLarge("The request body is larger than this router accepts (max_request_bytes).")
    if isinstance(exc, HTTPException) and 400 <= exc.status_code < 500:
        return InvalidRequest(exc.detail, status=exc.status_code, code=_HTTP_CODES.get(exc.status_code))
    log.error("unexpected error while serving a request", exc_info=exc)
    return InternalError("The router failed to handle this request.")


_HTTP_CODES = {415: "unsupported_media_type"}


def error_response(exc: RouterError) -> Response[bytes]:
    rendered = render_error(exc)
    return Response(rendered.body, status_code=rendered.status, media_type="application/json", headers=rendered.headers)


async def send_error(send: Send, exc: RouterError) -> None:
    """Answer with `exc` straight on the ASGI channel, for code that runs below the framework."""
    rendered = render_error(exc)
    headers = [_JSON, *((name.encode(), value.encode()) for name, value in rendered.headers.items())]
    await send({"type": "http.response.start", "status": rendered.status, "headers": headers})
    await send({"type": "http.response.body", "body": rendered.body, "more_body": False})


def responses_error_code(exc: RouterError) -> str:
    """The code a failed Responses-API response carries: its `error.code` takes a few values only."""
    return "rate_limit_exceeded" if exc.http_status == 429 else "server_error"


def _handle(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if current().status == CLIENT_CLOSED_REQUEST:
        # The client left while sending its request, which is why reading it failed: no one to answer, and
        # nothing to log but the request's own line.
        return error_response(ClientClosedRequest("The client closed the connection before the answer."))
    error = as_router_error(exc, request.method, request.url.path)
    if error.http_status >= 500 and not isinstance(error, InternalError):
        log.warning("request failed: %s", error.message)
    return error_response(error)


exception_handlers = {Exception: _handle}
