"""One tool call with its policy: the deadline over everything, the tool's timeout per attempt, and up to
`max_attempts` attempts, with exponential backoff and jitter (tenacity), for what another attempt can fix:
a connection that failed, and answers of 429 or 5xx (their `Retry-After` honoured within the deadline).
An address the router refuses is not retried, and after the last attempt a 429 or 5xx answer is the
tool's own answer (an error result), while a failed connection is a `ToolError`.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential_jitter,
)

from app.tools.egress import REFUSED
from providers.errors import ToolTimeout, ToolUnreachable

if TYPE_CHECKING:
    from collections.abc import Mapping

    from app.tools.kinds import ToolBackend
    from app.tools.results import ToolOutput
    from app.tools.toolsets import Tool

__all__ = ["call_with_policy"]

_BACKOFF_INITIAL = 0.2
_BACKOFF_MAX = 5.0


class _Retryable(ToolUnreachable):
    """A failed connection another attempt may get through."""


async def call_with_policy(
    tool: Tool,
    backend: ToolBackend,
    arguments: dict[str, Any],
    *,
    deadline: float | None,
    headers: Mapping[str, str] | None = None,
) -> tuple[ToolOutput, int]:
    """The tool's answer and the attempts it took; `deadline` is a `time.monotonic()` instant."""
    attempts = 0
    budget = tool.timeout * tool.max_attempts if deadline is None else deadline - time.monotonic()
    if budget <= 0:
        raise ToolTimeout(f"The request's deadline passed before the tool {tool.name} could be called.")
    end = time.monotonic() + budget
    jitter = wait_exponential_jitter(multiplier=_BACKOFF_INITIAL, max=_BACKOFF_MAX, jitter=_BACKOFF_INITIAL)

    def wait(state: RetryCallState) -> float:
        outcome = state.outcome
        answer = outcome.result() if outcome is not None and not outcome.failed else None
        delay = max(jitter(state), answer.retry_after or 0.0) if answer is not None else jitter(state)
        return min(delay, max(0.0, end - time.monotonic()))

    async def attempt() -> ToolOutput:
        nonlocal attempts
        attempts += 1
        remaining = end - time.monotonic()
        limit = min(tool.timeout, remaining)
        if remaining <= 0:
            raise ToolTimeout(f"The tool {tool.name} did not answer within the request's deadline.")
        try:
            async with asyncio.timeout(limit):
                return await backend.call(tool.spec, arguments, time_limit=limit, headers=headers)
        except TimeoutError:
            raise ToolTimeout(f"The tool {tool.name} did not answer within {limit:g} s.") from None
        except ToolUnreachable as exc:
            if exc.code == REFUSED:
                raise
            raise _Retryable(exc.message) from None

    retrying = AsyncRetrying(
        stop=stop_after_attempt(tool.max_attempts),
        wait=wait,
        retry=retry_if_exception_type(_Retryable) | retry_if_result(lambda output: output.retryable),
        retry_error_callback=_last_outcome,
        reraise=True,
    )
    try:
        output: ToolOutput = await retrying(attempt)
    except _Retryable as exc:
        raise ToolUnreachable(exc.message) from None
    return output, attempts


def _last_outcome(state: RetryCallState) -> Any:
    """After the last attempt: its answer (a 429 or 5xx, which the caller sees as an error result)."""
    assert state.outcome is not None
    return state.outcome.result()
