"""HTTP exchange with the router: sending requests, retrying, reading streams.

Owns everything that touches httpx once a request body exists: the shared
default client, the retry loop with its back-off (honouring ``Retry-After`` and
``x-should-retry``), and reading a streamed body line by line while turning
transport failures into this package's errors. The sync and async halves mirror
each other; the decisions they share live in `RetryPolicy` and
``_error_mapping``.
"""

from __future__ import annotations

import asyncio
import atexit
import random
import time
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import httpx

from langchain_llm_router._error_mapping import (
    error_from_response,
    error_from_transport,
    parse_retry_after,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from langchain_llm_router.errors import LLMRouterError

__all__ = [
    "RetryPolicy",
    "aiter_lines",
    "asend",
    "default_sync_client",
    "iter_lines",
    "send",
]

# Indirections so tests can observe back-off without waiting for it.
_sleep = time.sleep
_async_sleep = asyncio.sleep


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before retrying a failed request.

    Attributes:
        max_retries: Retries allowed after the first attempt.
        initial_delay: Back-off before the first retry when the server gave no
            ``Retry-After``; doubles with each retry.
        max_delay: Ceiling of the exponential back-off.
        max_retry_after: Longest ``Retry-After`` honoured. A server asking for a
            longer wait gets no retry: the error is raised at once, with its
            ``retry_after`` set, rather than blocking the caller for minutes.
    """

    max_retries: int
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def next_delay(
        self,
        error: LLMRouterError,
        retries_done: int,
        headers: httpx.Headers | None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up."""
        if retries_done >= self.max_retries or not error.is_retryable:
            return None
        if headers is not None and (hint := parse_retry_after(headers)) is not None:
            return hint if hint <= self.max_retry_after else None
        backoff = min(self.initial_delay * 2.0**retries_done, self.max_delay)
        # Jitter keeps clients that failed together from retrying in lockstep.
        return backoff * (1 - 0.25 * random.random())  # noqa: S311


@cache
def default_sync_client() -> httpx.Client:
    """The process-wide client used when the caller injects none.

    Shared so that connections to the router are pooled across model instances;
    per-request settings (URL, headers, timeout) travel on each request. Closed
    at interpreter exit so pooled sockets are not left for the garbage collector.
    """
    client = httpx.Client()
    atexit.register(client.close)
    return client


def send(
    client: httpx.Client,
    request: httpx.Request,
    policy: RetryPolicy,
    *,
    stream: bool,
) -> httpx.Response:
    """Send ``request``, retrying as ``policy`` allows; return a 2xx response.

    With ``stream`` the body is left unread for the caller to iterate and close,
    and only failures up to the response headers are retried: once a streamed
    body has been handed over, part of it may already have reached the user.

    Raises:
        LLMRouterError: The last failure, once retries are exhausted or pointless.
    """
    retries = 0
    while True:
        cause: httpx.TransportError | None = None
        headers: httpx.Headers | None = None
        try:
            response = client.send(request, stream=stream)
            if response.is_success:
                return response
            if stream:
                try:
                    response.read()
                finally:
                    response.close()
            headers = response.headers
            error = error_from_response(response)
        except httpx.TransportError as exc:
            cause, error = exc, error_from_transport(exc)
        delay = policy.next_delay(error, retries, headers)
        if delay is None:
            raise error from cause
        _sleep(delay)
        retries += 1


async def asend(
    client: httpx.AsyncClient,
    request: httpx.Request,
    policy: RetryPolicy,
    *,
    stream: bool,
) -> httpx.Response:
    """Asynchronous twin of `send`."""
    retries = 0
    while True:
        cause: httpx.TransportError | None = None
        headers: httpx.Headers | None = None
        try:
            response = await client.send(request, stream=stream)
            if response.is_success:
                return response
            if stream:
                try:
                    await response.aread()
                finally:
                    await response.aclose()
            headers = response.headers
            error = error_from_response(response)
        except httpx.TransportError as exc:
            cause, error = exc, error_from_transport(exc)
        delay = policy.next_delay(error, retries, headers)
        if delay is None:
            raise error from cause
        await _async_sleep(delay)
        retries += 1


def iter_lines(response: httpx.Response) -> Iterator[str]:
    """Lines of a streamed body, with transport failures as `LLMRouterError`."""
    try:
        yield from response.iter_lines()
    except httpx.TransportError as exc:
        raise error_from_transport(exc) from exc


async def aiter_lines(response: httpx.Response) -> AsyncIterator[str]:
    """Asynchronous twin of `iter_lines`."""
    try:
        async for line in response.aiter_lines():
            yield line
    except httpx.TransportError as exc:
        raise error_from_transport(exc) from exc
