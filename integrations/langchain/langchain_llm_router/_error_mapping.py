"""Translation of router failures into this package's exceptions.

Owns the decisions of which `LLMRouterError` subclass a failure becomes: from
an HTTP error response (status plus OpenAI error envelope), from an error event
inside a stream, or from an httpx transport exception. Also parses the
``Retry-After`` family of headers, which both the errors and the retry loop use.
"""

from __future__ import annotations

import json
import math
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

from langchain_llm_router.errors import (
    LLMRouterAPIError,
    LLMRouterAuthenticationError,
    LLMRouterConflictError,
    LLMRouterConnectionError,
    LLMRouterContextOverflowError,
    LLMRouterError,
    LLMRouterInvalidRequestError,
    LLMRouterNotFoundError,
    LLMRouterPermissionDeniedError,
    LLMRouterRateLimitError,
    LLMRouterTimeoutError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "error_from_event",
    "error_from_response",
    "error_from_transport",
    "parse_retry_after",
]

_STATUS_ERRORS: dict[int, type[LLMRouterError]] = {
    400: LLMRouterInvalidRequestError,
    401: LLMRouterAuthenticationError,
    403: LLMRouterPermissionDeniedError,
    404: LLMRouterNotFoundError,
    408: LLMRouterTimeoutError,
    409: LLMRouterConflictError,
    429: LLMRouterRateLimitError,
}

# Error events inside a stream have no HTTP status of their own; OpenAI-style
# ``type``/``code`` strings are the only hint at what went wrong.
_TYPE_ERRORS: dict[str, type[LLMRouterError]] = {
    "invalid_request_error": LLMRouterInvalidRequestError,
    "authentication_error": LLMRouterAuthenticationError,
    "permission_error": LLMRouterPermissionDeniedError,
    "not_found_error": LLMRouterNotFoundError,
    "rate_limit_error": LLMRouterRateLimitError,
    "rate_limit_exceeded": LLMRouterRateLimitError,
    "timeout": LLMRouterTimeoutError,
    "timeout_error": LLMRouterTimeoutError,
    "server_error": LLMRouterAPIError,
    "api_error": LLMRouterAPIError,
}

_CONTEXT_OVERFLOW_CODE = "context_length_exceeded"


def error_from_response(response: httpx.Response) -> LLMRouterError:
    """Build the exception for a non-2xx response whose body has been read."""
    body = _decode_json(response.content)
    envelope = _envelope(body)
    message = _text(envelope.get("message")) or response.text or response.reason_phrase
    error_class = _class_for_status(response.status_code)
    if error_class is LLMRouterInvalidRequestError and _is_context_overflow(
        envelope, message
    ):
        error_class = LLMRouterContextOverflowError
    return error_class(
        message or f"request failed with HTTP {response.status_code}",
        status_code=response.status_code,
        error_type=_text(envelope.get("type")),
        code=_code(envelope.get("code")),
        param=_text(envelope.get("param")),
        body=body,
        request_id=response.headers.get("x-request-id"),
        retry_after=parse_retry_after(response.headers),
        should_retry=_should_retry_hint(response.headers),
    )


def error_from_event(event: Mapping[str, Any]) -> LLMRouterError:
    """Build the exception for a stream event carrying a top-level ``error``."""
    envelope = _envelope(event)
    message = _text(envelope.get("message")) or "the stream failed"
    code = _code(envelope.get("code"))
    error_type = _text(envelope.get("type"))
    # Some upstreams put the HTTP status they would have answered in ``code``.
    status = code if isinstance(code, int) and 400 <= code <= 599 else None
    if status is not None:
        error_class = _class_for_status(status)
    else:
        error_class = (
            _TYPE_ERRORS.get(error_type or "")
            or _TYPE_ERRORS.get(str(code))
            or LLMRouterAPIError
        )
    if error_class is LLMRouterInvalidRequestError and _is_context_overflow(
        envelope, message
    ):
        error_class = LLMRouterContextOverflowError
    return error_class(
        message,
        error_type=error_type,
        code=code,
        param=_text(envelope.get("param")),
        body=dict(event),
    )


def error_from_transport(exc: httpx.TransportError) -> LLMRouterError:
    """Build the exception for a failure to exchange bytes with the router."""
    if isinstance(exc, httpx.TimeoutException):
        return LLMRouterTimeoutError(f"request to the router timed out: {exc!r}")
    return LLMRouterConnectionError(f"could not talk to the router: {exc!r}")


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asked to wait, from ``retry-after-ms`` or ``retry-after``.

    ``retry-after`` may be a number of seconds or an HTTP date. Unparseable or
    negative values count as absent.
    """
    if (millis := _non_negative_float(headers.get("retry-after-ms"))) is not None:
        return millis / 1000
    raw = headers.get("retry-after")
    if raw is None:
        return None
    if (seconds := _non_negative_float(raw)) is not None:
        return seconds
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _class_for_status(status: int) -> type[LLMRouterError]:
    if status in _STATUS_ERRORS:
        return _STATUS_ERRORS[status]
    if status >= 500:
        return LLMRouterAPIError
    if status >= 400:
        return LLMRouterInvalidRequestError
    return LLMRouterError


def _should_retry_hint(headers: httpx.Headers) -> bool | None:
    value = headers.get("x-should-retry", "").strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    return None


def _is_context_overflow(envelope: Mapping[str, Any], message: str) -> bool:
    return (
        envelope.get("code") == _CONTEXT_OVERFLOW_CODE
        or _CONTEXT_OVERFLOW_CODE in message
    )


def _decode_json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None


def _envelope(body: Any) -> Mapping[str, Any]:
    """The ``error`` object of an OpenAI error body, tolerating a bare string."""
    if not isinstance(body, dict):
        return {}
    error = body.get("error")
    if isinstance(error, dict):
        return error
    if isinstance(error, str):
        return {"message": error}
    return {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _code(value: Any) -> str | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | str):
        return value
    return None


def _non_negative_float(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    # float() accepts "nan" and "inf", neither of which is a usable delay.
    if not math.isfinite(value) or value < 0:
        return None
    return value
