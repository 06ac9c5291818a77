"""Failures → langchain_core.exceptions types, with is_retryable set right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest
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

from langchain_llm_router import (
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
from langchain_llm_router._error_mapping import (
    error_from_event,
    error_from_response,
    error_from_transport,
    parse_retry_after,
)

from llm_router_fakes import error_response, json_response

if TYPE_CHECKING:
    from llm_router_fakes import FakeRouter


@pytest.mark.parametrize(
    ("status", "error_class", "core_class", "retryable"),
    [
        (400, LLMRouterInvalidRequestError, ModelInvalidRequestError, False),
        (401, LLMRouterAuthenticationError, ModelAuthenticationError, False),
        (403, LLMRouterPermissionDeniedError, ModelPermissionDeniedError, False),
        (404, LLMRouterNotFoundError, ModelNotFoundError, False),
        (408, LLMRouterTimeoutError, ModelTimeoutError, True),
        (409, LLMRouterConflictError, ModelError, True),
        (413, LLMRouterInvalidRequestError, ModelInvalidRequestError, False),
        (422, LLMRouterInvalidRequestError, ModelInvalidRequestError, False),
        (429, LLMRouterRateLimitError, ModelRateLimitError, True),
        (500, LLMRouterAPIError, ModelAPIError, True),
        (502, LLMRouterAPIError, ModelAPIError, True),
        (503, LLMRouterAPIError, ModelAPIError, True),
    ],
)
def test_status_mapping(
    status: int,
    error_class: type[LLMRouterError],
    core_class: type[ModelError],
    retryable: bool,
) -> None:
    error = error_from_response(error_response(status, "nope"))

    assert type(error) is error_class
    assert isinstance(error, core_class)
    assert isinstance(error, LLMRouterError)
    assert error.is_retryable is retryable
    assert error.status_code == status


def test_envelope_fields_are_kept() -> None:
    response = error_response(
        400,
        "temperature must be <= 2",
        error_type="invalid_request_error",
        code="invalid_value",
        param="temperature",
        headers={"x-request-id": "req_42"},
    )

    error = error_from_response(response)

    assert error.message == "temperature must be <= 2"
    assert str(error) == "HTTP 400: temperature must be <= 2"
    assert error.error_type == "invalid_request_error"
    assert error.code == "invalid_value"
    assert error.param == "temperature"
    assert error.request_id == "req_42"
    assert error.body == {
        "error": {
            "message": "temperature must be <= 2",
            "type": "invalid_request_error",
            "param": "temperature",
            "code": "invalid_value",
        }
    }


def test_context_overflow() -> None:
    error = error_from_response(
        error_response(400, "too long", code="context_length_exceeded")
    )

    assert type(error) is LLMRouterContextOverflowError
    assert isinstance(error, ContextOverflowError)
    assert isinstance(error, ModelInvalidRequestError)
    assert error.is_retryable is False


def test_non_json_error_body() -> None:
    error = error_from_response(httpx.Response(502, text="Bad Gateway from nginx"))

    assert type(error) is LLMRouterAPIError
    assert error.message == "Bad Gateway from nginx"
    assert error.body is None


def test_rate_limit_carries_retry_after() -> None:
    error = error_from_response(
        error_response(429, "slow down", headers={"retry-after": "7"})
    )

    assert isinstance(error, ModelRateLimitError)
    assert error.retry_after == 7.0


@pytest.mark.parametrize(
    ("status", "header", "retryable"),
    [
        (500, "false", False),
        (429, "false", False),
        (400, "TRUE", True),
    ],
)
def test_x_should_retry_overrides_the_default(
    status: int,
    header: str,
    retryable: bool,
) -> None:
    error = error_from_response(
        error_response(status, headers={"x-should-retry": header})
    )

    assert error.is_retryable is retryable
    # The hint overrides this instance only, never the class default.
    assert type(error).is_retryable is not retryable


@pytest.mark.parametrize(
    ("exception", "error_class", "core_class"),
    [
        (httpx.ConnectError("refused"), LLMRouterConnectionError, ModelConnectionError),
        (
            httpx.RemoteProtocolError("eof"),
            LLMRouterConnectionError,
            ModelConnectionError,
        ),
        (httpx.ConnectTimeout("slow"), LLMRouterTimeoutError, ModelTimeoutError),
        (httpx.ReadTimeout("slow"), LLMRouterTimeoutError, ModelTimeoutError),
    ],
)
def test_transport_failures(
    exception: httpx.TransportError,
    error_class: type[LLMRouterError],
    core_class: type[ModelError],
) -> None:
    error = error_from_transport(exception)

    assert type(error) is error_class
    assert isinstance(error, core_class)
    assert error.is_retryable is True
    assert error.status_code is None


@pytest.mark.parametrize(
    ("envelope", "error_class"),
    [
        ({"message": "m", "type": "server_error"}, LLMRouterAPIError),
        ({"message": "m", "type": "rate_limit_error"}, LLMRouterRateLimitError),
        ({"message": "m", "code": "rate_limit_exceeded"}, LLMRouterRateLimitError),
        ({"message": "m", "code": 429}, LLMRouterRateLimitError),
        ({"message": "m", "code": 502}, LLMRouterAPIError),
        (
            {"message": "m", "type": "invalid_request_error"},
            LLMRouterInvalidRequestError,
        ),
        (
            {
                "message": "m",
                "type": "invalid_request_error",
                "code": "context_length_exceeded",
            },
            LLMRouterContextOverflowError,
        ),
        ({"message": "m", "type": "something_new"}, LLMRouterAPIError),
        ({"message": "m"}, LLMRouterAPIError),
    ],
)
def test_stream_error_events(
    envelope: dict[str, Any], error_class: type[LLMRouterError]
) -> None:
    error = error_from_event({"error": envelope})

    assert type(error) is error_class
    assert error.message == "m"


def test_stream_error_event_with_a_bare_string() -> None:
    error = error_from_event({"error": "upstream exploded"})

    assert type(error) is LLMRouterAPIError
    assert str(error) == "upstream exploded"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "nan"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(httpx.Headers(headers)) == expected


def test_parse_retry_after_http_date() -> None:
    moment = datetime.now(UTC) + timedelta(seconds=30)
    headers = httpx.Headers({"retry-after": format_datetime(moment, usegmt=True)})

    delay = parse_retry_after(headers)

    assert delay is not None
    assert 25 <= delay <= 30


def test_errors_surface_through_invoke(fake_router: FakeRouter) -> None:
    fake_router.queue(error_response(404, "no such model: x/y", code="model_not_found"))

    with pytest.raises(ModelNotFoundError, match="no such model"):
        fake_router.model().invoke("Hi")


def test_error_envelope_with_status_200_still_raises(fake_router: FakeRouter) -> None:
    # Some upstreams report failures in a 200 body; it must not pass as an answer.
    fake_router.queue(
        json_response({"error": {"message": "boom", "type": "server_error"}})
    )

    with pytest.raises(LLMRouterAPIError, match="boom"):
        fake_router.model().invoke("Hi")


def test_response_that_is_not_json_raises(fake_router: FakeRouter) -> None:
    fake_router.queue(httpx.Response(200, text="<html>proxy login</html>"))

    with pytest.raises(LLMRouterAPIError, match="not JSON"):
        fake_router.model().invoke("Hi")


async def test_errors_surface_through_ainvoke(fake_router: FakeRouter) -> None:
    fake_router.queue(error_response(401, "bad key", error_type="authentication_error"))

    with pytest.raises(ModelAuthenticationError):
        await fake_router.model().ainvoke("Hi")
