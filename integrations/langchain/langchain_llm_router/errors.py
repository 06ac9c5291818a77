"""Exceptions raised when a call to the router fails.

Owns the package's error types. Each one derives from the matching
``langchain_core.exceptions`` type, so code written against LangChain's
provider-neutral errors (``ModelRateLimitError``, ``ModelAPIError``, ...) works
unchanged, and from `LLMRouterError`, which carries what the router said: the
HTTP status and the fields of its OpenAI error envelope
``{"error": {"message", "type", "param", "code"}}``.

langchain-core has no type for HTTP 409 (conflict), so `LLMRouterConflictError`
derives from ``ModelError`` directly. HTTP 408 (the server timing out the
request) is reported as `LLMRouterTimeoutError`, a ``ModelTimeoutError``.
"""

from __future__ import annotations

from typing import Any

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)

__all__ = [
    "LLMRouterAPIError",
    "LLMRouterAuthenticationError",
    "LLMRouterConflictError",
    "LLMRouterConnectionError",
    "LLMRouterContextOverflowError",
    "LLMRouterError",
    "LLMRouterInvalidRequestError",
    "LLMRouterNotFoundError",
    "LLMRouterPermissionDeniedError",
    "LLMRouterRateLimitError",
    "LLMRouterTimeoutError",
]


class LLMRouterError(ModelError):
    """Base class of every error raised for a failed call to the router.

    Attributes:
        message: Human-readable description, from the error envelope if any.
        status_code: HTTP status of the failed response; ``None`` for transport
            failures and for errors reported inside a stream.
        error_type: The envelope's ``type`` (e.g. ``"invalid_request_error"``).
        code: The envelope's ``code``; a string, or a number for some upstreams.
        param: The envelope's ``param``: the request field at fault, if known.
        body: The decoded response body (or stream event), if it was JSON.
        request_id: The ``x-request-id`` response header, if present.
        retry_after: Seconds the server asked to wait before retrying, if it said.
        is_retryable: Whether retrying the same request may succeed. Defaults per
            error type, overridden by the server's ``x-should-retry`` header.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_type: str | None = None,
        code: str | int | None = None,
        param: str | None = None,
        body: Any = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error_type = error_type
        self.code = code
        self.param = param
        self.body = body
        self.request_id = request_id
        self.retry_after = retry_after
        if should_retry is not None:
            # The server knows better than a status-code table whether a retry
            # can help (e.g. a 500 caused by a request the upstream can never
            # serve), so its hint shadows the class default for this instance.
            self.is_retryable = should_retry

    def __str__(self) -> str:
        if self.status_code is None:
            return self.message
        return f"HTTP {self.status_code}: {self.message}"


class LLMRouterInvalidRequestError(LLMRouterError, ModelInvalidRequestError):
    """The router rejected the request as invalid (HTTP 400, 413, 422, other 4xx)."""

    is_retryable = False


class LLMRouterContextOverflowError(LLMRouterInvalidRequestError, ContextOverflowError):
    """The input exceeds the model's context window."""

    is_retryable = False


class LLMRouterAuthenticationError(LLMRouterError, ModelAuthenticationError):
    """The router did not accept the API key (HTTP 401)."""

    is_retryable = False


class LLMRouterPermissionDeniedError(LLMRouterError, ModelPermissionDeniedError):
    """The API key may not make this request (HTTP 403)."""

    is_retryable = False


class LLMRouterNotFoundError(LLMRouterError, ModelNotFoundError):
    """The model or endpoint does not exist (HTTP 404)."""

    is_retryable = False


class LLMRouterConflictError(LLMRouterError):
    """The request conflicted with another one in progress (HTTP 409)."""

    is_retryable = True


class LLMRouterRateLimitError(LLMRouterError, ModelRateLimitError):
    """A rate limit was hit (HTTP 429); see ``retry_after``."""

    is_retryable = True


class LLMRouterAPIError(LLMRouterError, ModelAPIError):
    """The router or its upstream failed (HTTP 5xx, or an error inside a stream)."""

    is_retryable = True


class LLMRouterConnectionError(LLMRouterError, ModelConnectionError):
    """The router could not be reached, or the connection broke mid-response."""

    is_retryable = True


class LLMRouterTimeoutError(LLMRouterError, ModelTimeoutError):
    """The request timed out, on the client side or as reported by HTTP 408."""

    is_retryable = True
