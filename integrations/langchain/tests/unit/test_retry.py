"""Retries: which failures are retried, and how long the client waits."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from langchain_core.exceptions import ModelError, ModelRateLimitError

from langchain_llm_router import (
    LLMRouterAPIError,
    LLMRouterConnectionError,
    LLMRouterInvalidRequestError,
    LLMRouterRateLimitError,
    _http,
)
from langchain_llm_router._http import RetryPolicy

from llm_router_fakes import (
    chunk,
    completion,
    error_response,
    json_response,
    sse_response,
)

if TYPE_CHECKING:
    from llm_router_fakes import FakeRouter

OK = completion("ok")


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Delays the client waited for, recorded instead of slept."""
    recorded: list[float] = []

    async def fake_async_sleep(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr(_http, "_sleep", recorded.append)
    monkeypatch.setattr(_http, "_async_sleep", fake_async_sleep)
    return recorded


def rate_limited(retry_after: str = "2") -> httpx.Response:
    return error_response(
        429,
        "slow down",
        error_type="rate_limit_error",
        headers={"retry-after": retry_after},
    )


def test_retry_after_is_honoured(fake_router: FakeRouter, sleeps: list[float]) -> None:
    fake_router.queue(rate_limited("2"), json_response(OK))

    message = fake_router.model().invoke("Hi")

    assert message.content == "ok"
    assert sleeps == [2.0]
    assert len(fake_router.requests) == 2


async def test_retry_after_is_honoured_async(
    fake_router: FakeRouter, sleeps: list[float]
) -> None:
    fake_router.queue(rate_limited("1.5"), json_response(OK))

    message = await fake_router.model().ainvoke("Hi")

    assert message.content == "ok"
    assert sleeps == [1.5]


def test_retry_after_ms_is_honoured(
    fake_router: FakeRouter, sleeps: list[float]
) -> None:
    fake_router.queue(
        error_response(503, "busy", headers={"retry-after-ms": "120"}),
        json_response(OK),
    )

    fake_router.model().invoke("Hi")

    assert sleeps == [0.12]


@pytest.mark.usefixtures("sleeps")
@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retryable_statuses(fake_router: FakeRouter, status: int) -> None:
    fake_router.queue(
        error_response(status, headers={"retry-after": "0"}), json_response(OK)
    )

    assert fake_router.model().invoke("Hi").content == "ok"
    assert len(fake_router.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(
    fake_router: FakeRouter, sleeps: list[float], status: int
) -> None:
    fake_router.queue(error_response(status))

    with pytest.raises(ModelError):
        fake_router.model(max_retries=5).invoke("Hi")

    assert len(fake_router.requests) == 1
    assert sleeps == []


def test_x_should_retry_false_stops_retrying(
    fake_router: FakeRouter, sleeps: list[float]
) -> None:
    fake_router.queue(
        error_response(500, "permanent", headers={"x-should-retry": "false"})
    )

    with pytest.raises(LLMRouterAPIError) as info:
        fake_router.model(max_retries=5).invoke("Hi")

    assert info.value.is_retryable is False
    assert len(fake_router.requests) == 1
    assert sleeps == []


@pytest.mark.usefixtures("sleeps")
def test_x_should_retry_true_forces_a_retry(fake_router: FakeRouter) -> None:
    fake_router.queue(
        error_response(400, "transient", headers={"x-should-retry": "true"}),
        json_response(OK),
    )

    assert fake_router.model().invoke("Hi").content == "ok"
    assert len(fake_router.requests) == 2


def test_retries_are_bounded(fake_router: FakeRouter, sleeps: list[float]) -> None:
    fake_router.queue(*(rate_limited("0") for _ in range(3)))

    with pytest.raises(LLMRouterRateLimitError) as info:
        fake_router.model(max_retries=2).invoke("Hi")

    assert isinstance(info.value, ModelRateLimitError)
    assert info.value.is_retryable is True
    assert len(fake_router.requests) == 3
    assert sleeps == [0.0, 0.0]


@pytest.mark.usefixtures("sleeps")
def test_max_retries_zero_disables_retrying(fake_router: FakeRouter) -> None:
    fake_router.queue(rate_limited())

    with pytest.raises(LLMRouterRateLimitError):
        fake_router.model(max_retries=0).invoke("Hi")

    assert len(fake_router.requests) == 1


def test_too_long_retry_after_is_not_waited_for(
    fake_router: FakeRouter, sleeps: list[float]
) -> None:
    fake_router.queue(rate_limited("3600"))

    with pytest.raises(LLMRouterRateLimitError) as info:
        fake_router.model(max_retries=3).invoke("Hi")

    assert info.value.retry_after == 3600.0
    assert sleeps == []


def test_connection_errors_are_retried_with_backoff(
    fake_router: FakeRouter, sleeps: list[float]
) -> None:
    fake_router.queue(
        httpx.ConnectError("refused"), httpx.ConnectError("refused"), json_response(OK)
    )

    assert fake_router.model().invoke("Hi").content == "ok"
    assert len(sleeps) == 2
    assert 0.375 <= sleeps[0] <= 0.5
    assert 0.75 <= sleeps[1] <= 1.0


@pytest.mark.usefixtures("sleeps")
def test_exhausted_connection_retries_keep_the_cause(fake_router: FakeRouter) -> None:
    fake_router.queue(httpx.ConnectError("refused"), httpx.ConnectError("refused"))

    with pytest.raises(LLMRouterConnectionError) as info:
        fake_router.model(max_retries=1).invoke("Hi")

    assert isinstance(info.value.__cause__, httpx.ConnectError)


@pytest.mark.usefixtures("sleeps")
def test_stream_is_retried_until_it_starts(fake_router: FakeRouter) -> None:
    fake_router.queue(
        error_response(503, "warming up", headers={"retry-after": "0"}),
        sse_response(chunk({"content": "ok"}), chunk({}, finish_reason="stop")),
    )

    chunks = list(fake_router.model().stream("Hi"))

    assert "".join(str(c.content) for c in chunks) == "ok"
    assert len(fake_router.requests) == 2


async def test_async_stream_is_retried_until_it_starts(
    fake_router: FakeRouter, sleeps: list[float]
) -> None:
    fake_router.queue(
        httpx.ConnectError("refused"),
        sse_response(chunk({"content": "ok"}), chunk({}, finish_reason="stop")),
    )

    chunks = [c async for c in fake_router.model().astream("Hi")]

    assert "".join(str(c.content) for c in chunks) == "ok"
    assert len(sleeps) == 1


@pytest.mark.usefixtures("sleeps")
def test_invalid_request_in_stream_setup_is_not_retried(
    fake_router: FakeRouter,
) -> None:
    fake_router.queue(error_response(400, "bad"))

    with pytest.raises(LLMRouterInvalidRequestError):
        list(fake_router.model().stream("Hi"))

    assert len(fake_router.requests) == 1


def test_backoff_grows_exponentially_up_to_a_ceiling() -> None:
    policy = RetryPolicy(max_retries=10, initial_delay=0.5, max_delay=8.0)
    error = LLMRouterAPIError("boom")

    delays = [policy.next_delay(error, n, None) for n in range(7)]

    ceilings = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert delay is not None
        assert 0.75 * ceiling <= delay <= ceiling
