"""The one place errors become what a client sees, for every endpoint and every way of answering.

Every failure is, or is first turned into, an error from the tree in `providers.errors`, and rendered by
`render_error` in one of two dialects, with the status a client can act on, `Retry-After` when waiting
helps, and `x-should-retry: false` where sending the same request again cannot help (the OpenAI and
Anthropic SDKs read it and otherwise retry every 5xx):

- `openai`: OpenAI's envelope, `{"error": {"message", "type", "param", "code"}}`, on every endpoint but
  Anthropic's;
- `anthropic`: Anthropic's, `{"type": "error", "error": {"type", "message"}, "request_id"}`, on the Messages
  API (`/v1/messages` and below it), with Anthropic's error types and statuses: an overloaded upstream, or
  any other 503 that waiting may cure, is 529 `overloaded_error`, as Anthropic's own API says it.

The same rendering serves a plain HTTP answer (`error_response`), code below the framework such as the
client-key gate (`send_error`, in the dialect of the request's path), an error event in a stream
(`ErrorRendering.body`) and the Responses API's `error` event and failed response (`responses_error_code`).
Anything unexpected is logged with its traceback and answered as an `InternalError`: no stack trace ever
reaches a client.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from litestar import Response
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotFoundException
from msgspec import UNSET

from app.context import current
from app.disconnect import CLIENT_CLOSED_REQUEST
from providers.anthropic_schema import ErrorObject, ErrorResponse
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
    "ANTHROPIC_PATH",
    "Dialect",
    "ErrorRendering",
    "anthropic_exception_handlers",
    "as_router_error",
    "error_dialect",
    "error_response",
    "exception_handlers",
    "render_error",
    "responses_error_code",
    "send_error",
]

Dialect = Literal["openai", "anthropic"]
ANTHROPIC_PATH = "/v1/messages"
"""Where the Anthropic Messages API is served: requests to it and below it are answered in its dialect."""

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


def render_error(exc: RouterError, dialect: Dialect = "openai") -> ErrorRendering:
    """Render an error of the tree: the one function every endpoint's errors go through."""
    headers: dict[str, str] = {}
    if exc.retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(exc.retry_after)))
    if not exc.retryable and exc.http_status >= 500:
        headers["x-should-retry"] = "false"
    if dialect == "anthropic":
        status, kind = _anthropic_status(exc)
        request_id = current().request_id
        envelope = ErrorResponse(error=ErrorObject(type=kind, message=exc.message), request_id=request_id or UNSET)
        return ErrorRendering(status, headers, _encoder.encode(envelope))
    body = _encoder.encode(_ErrorEnvelope(_Envelope(exc.message, exc.type, exc.param, exc.code)))
    return ErrorRendering(exc.http_status, headers, body)


def error_dialect(path: str) -> Dialect:
    """The dialect errors take on a path: Anthropic's on the Messages API, OpenAI's everywhere else."""
    if path == ANTHROPIC_PATH or path.startswith(ANTHROPIC_PATH + "/"):
        return "anthropic"
    return "openai"


# Anthropic's documented error types by status; any other 4xx is an `invalid_request_error`, any other 5xx an
# `api_error`.
_ANTHROPIC_TYPES = {
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_OVERLOADED = 529


def _anthropic_status(exc: RouterError) -> tuple[int, str]:
    """The status and error type Anthropic's API would answer with."""
    status = exc.http_status
    if status == 503 and exc.retryable:
        # Overloaded for now (not unconfigured, not out of credit): Anthropic's clients wait and retry a 529.
        status = _OVERLOADED
    kind = _ANTHROPIC_TYPES.get(status)
    if kind is None:
        kind = "api_error" if status >= 500 else "invalid_request_error"
    return status, kind


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


def error_response(exc: RouterError, dialect: Dialect = "openai") -> Response[bytes]:
    rendered = render_error(exc, dialect)
    return Response(rendered.body, status_code=rendered.status, media_type="application/json", headers=rendered.headers)


async def send_error(send: Send, exc: RouterError) -> None:
    """Answer with `exc` straight on the ASGI channel, for code that runs below the framework (in the dialect
    of the request's path, since no endpoint has been chosen yet)."""
    rendered = render_error(exc, error_dialect(current().path))
    headers = [_JSON, *((name.encode(), value.encode()) for name, value in rendered.headers.items())]
    await send({"type": "http.response.start", "status": rendered.status, "headers": headers})
    await send({"type": "http.response.body", "body": rendered.body, "more_body": False})


def responses_error_code(exc: RouterError) -> str:
    """The code a failed Responses-API response carries: its `error.code` takes a few values only."""
    return "rate_limit_exceeded" if exc.http_status == 429 else "server_error"


def _handle(dialect: Dialect | None, request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Answer a failed request. Without a `dialect` of its own (no endpoint matched, or the endpoint does not
    say), the request's path decides."""
    path = request.url.path
    dialect = dialect or error_dialect(path)
    if current().status == CLIENT_CLOSED_REQUEST:
        # The client left while sending its request, which is why reading it failed: no one to answer, and
        # nothing to log but the request's own line.
        return error_response(ClientClosedRequest("The client closed the connection before the answer."), dialect)
    error = as_router_error(exc, request.method, path)
    if error.http_status >= 500 and not isinstance(error, InternalError):
        log.warning("request failed: %s", error.message)
    return error_response(error, dialect)


exception_handlers = {Exception: partial(_handle, None)}
anthropic_exception_handlers = {Exception: partial(_handle, "anthropic")}
"""For the Anthropic Messages API's endpoints: every error they raise in Anthropic's envelope."""
