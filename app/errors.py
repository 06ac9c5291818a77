"""The one place errors become HTTP responses, always in OpenAI's error envelope.

`{"error": {"message", "type", "param", "code"}}`, with the status a client can act on, and
`x-should-retry: false` where sending the same request again cannot help (OpenAI's SDKs read it and
otherwise retry every 5xx). Anything unexpected is logged with its traceback and answered with a plain
500 envelope: no stack trace ever reaches a client.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Response
from litestar.exceptions import HTTPException, NotFoundException

from providers.errors import RouterError

if TYPE_CHECKING:
    from litestar import Request

__all__ = ["error_body", "error_response", "exception_handlers"]

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()

_STATUS_TYPES = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "request_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> bytes:
    return _encoder.encode({"error": {"message": message, "type": type_, "param": param, "code": code}})


def router_error_body(exc: RouterError) -> bytes:
    return error_body(exc.message, exc.type, exc.param, exc.code)


def error_response(exc: RouterError) -> Response[bytes]:
    headers: dict[str, str] = {}
    if exc.retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(exc.retry_after)))
    if not exc.retryable and exc.http_status >= 500:
        headers["x-should-retry"] = "false"
    return Response(router_error_body(exc), status_code=exc.http_status, media_type="application/json", headers=headers)


def _router_error(_: Request[Any, Any, Any], exc: RouterError) -> Response[bytes]:
    if exc.http_status >= 500:
        log.warning("request failed: %s", exc.message)
    return error_response(exc)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status >= 500:
        return _unexpected(request, exc)
    type_, code = _STATUS_TYPES.get(status, ("invalid_request_error", None))
    if isinstance(exc, NotFoundException):
        message = f"Unknown request URL: {request.method} {request.url.path}."
    elif status == 413:
        message = "The request body is larger than this router accepts (max_request_bytes)."
    else:
        message = exc.detail
    return Response(
        error_body(message, type_, None, code),
        status_code=status,
        media_type="application/json",
        headers=exc.headers or {},
    )


def _unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.error("unexpected error while serving a request", exc_info=exc)
    return Response(
        error_body("The router failed to handle this request.", "server_error", None, "internal_error"),
        status_code=500,
        media_type="application/json",
    )


exception_handlers = {RouterError: _router_error, HTTPException: _http_error, Exception: _unexpected}
