"""The router's failure scenarios, surfacing as LangChain's error types."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from langchain_core.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelNotFoundError,
    ModelRateLimitError,
    ModelTimeoutError,
)

from langchain_llm_router import (
    ChatLLMRouter,
    LLMRouterAPIError,
    LLMRouterConnectionError,
    LLMRouterNotFoundError,
    LLMRouterRateLimitError,
    LLMRouterTimeoutError,
)

from llm_router_process import free_port

if TYPE_CHECKING:
    from langchain_core.messages import AIMessageChunk

    from llm_router_process import RunningRouter

pytestmark = pytest.mark.integration


def model_for(router: RunningRouter, scenario: str, **kwargs: object) -> ChatLLMRouter:
    return ChatLLMRouter(model=f"mock/{scenario}", base_url=router.base_url, **kwargs)  # type: ignore[arg-type]


def test_rate_limit(router: RunningRouter) -> None:
    with pytest.raises(LLMRouterRateLimitError) as info:
        model_for(router, "rate-limited", max_retries=0).invoke("Hi")

    error = info.value
    assert isinstance(error, ModelRateLimitError)
    assert error.is_retryable is True
    assert error.status_code == 429
    assert error.retry_after == 1.0
    assert error.code == "rate_limit_exceeded"


def test_rate_limit_retries_wait_for_retry_after(router: RunningRouter) -> None:
    started = time.monotonic()

    with pytest.raises(ModelRateLimitError):
        model_for(router, "rate-limited", max_retries=1).invoke("Hi")

    # One retry, after the one second the router asked for.
    assert time.monotonic() - started >= 1.0


async def test_upstream_server_error(router: RunningRouter) -> None:
    with pytest.raises(LLMRouterAPIError) as info:
        await model_for(router, "server-error", max_retries=0).ainvoke("Hi")

    assert isinstance(info.value, ModelAPIError)
    assert info.value.status_code == 502
    assert info.value.is_retryable is True


def test_stream_failing_midway_raises_after_partial_output(
    router: RunningRouter,
) -> None:
    received: list[AIMessageChunk] = []

    with pytest.raises(LLMRouterAPIError, match="mid-stream") as info:
        received.extend(model_for(router, "stream-error").stream("Hi"))

    assert isinstance(info.value, ModelAPIError)
    assert "".join(str(c.content) for c in received)


async def test_stream_failing_midway_raises_async(router: RunningRouter) -> None:
    with pytest.raises(ModelAPIError):
        async for _ in model_for(router, "stream-error").astream("Hi"):
            pass


def test_stream_error_scenario_without_streaming(router: RunningRouter) -> None:
    with pytest.raises(LLMRouterAPIError) as info:
        model_for(router, "stream-error", max_retries=0).invoke("Hi")

    assert info.value.status_code == 502


def test_client_timeout(router: RunningRouter) -> None:
    with pytest.raises(LLMRouterTimeoutError) as info:
        model_for(router, "slow", timeout=0.3, max_retries=0).invoke("Hi")

    assert isinstance(info.value, ModelTimeoutError)
    assert info.value.is_retryable is True


def test_unknown_model(router: RunningRouter) -> None:
    model = ChatLLMRouter(model="nope/nothing", base_url=router.base_url)

    with pytest.raises(LLMRouterNotFoundError) as info:
        model.invoke("Hi")

    assert isinstance(info.value, ModelNotFoundError)
    assert info.value.code == "model_not_found"
    assert info.value.param == "model"
    assert info.value.is_retryable is False


def test_unreachable_router() -> None:
    # A port that was just free: nothing listens there.
    model = ChatLLMRouter(
        model="mock/text", base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=0
    )

    with pytest.raises(LLMRouterConnectionError) as info:
        model.invoke("Hi")

    assert isinstance(info.value, ModelConnectionError)
