"""The router's loop on a fake clock: each routing decision as a client sees it, with no real waiting.

A scripted provider answers each attempt as the test says (`Scripted.script`), the health board and the
router read the same fake clock, and the router's sleeps only move that clock, so every wait it makes is
recorded exactly (`FakeClock.slept`).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from app.catalog import ModelCatalog
from app.routing import LocalHealthBoard, Outcome, Overrides, Planner, Router
from app.settings import RoutingSettings, Settings
from providers.base import Provider, ProviderSettings
from providers.errors import (
    ModelNotFound,
    RouterError,
    TargetUnavailable,
    UpstreamCannotServe,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from providers.request import ChatRequest
from providers.schema import (
    ChatCompletion,
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    CompletionMessage,
    FunctionCall,
    FunctionToolCall,
    ToolCall,
)
from providers.schema import Choice as CompletionChoice

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from providers.base import ModelInfo

NOW = 1000.0
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


class FakeClock:
    """Time that moves only when the router sleeps, or when a scripted attempt takes time."""

    def __init__(self) -> None:
        self.now = NOW
        self.slept: list[float] = []
        self.on_sleep: list[Any] = []  # callbacks run at the next sleep, as if something happened meanwhile

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        while self.on_sleep:
            await self.on_sleep.pop(0)()


class HalfRandom(random.Random):
    """Every draw is 0.5, so a backoff's jitter is exactly half of `backoff_initial`."""

    def random(self) -> float:
        return 0.5


@dataclass
class Takes:
    """An attempt that takes `seconds` of the clock, then ends as `then`."""

    seconds: float
    then: Any


@dataclass
class Breaks:
    """A stream that sends `chunks` chunks, then fails with `error`."""

    chunks: int
    error: RouterError


class Scripted(Provider):
    """A provider whose models end each attempt as scripted: an error, an answer, or `Takes`/`Breaks`.
    A model with nothing left in its script answers "ok"."""

    name = "p"

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(ProviderSettings(), httpx.AsyncBaseTransport())
        self.clock = clock
        self.steps: dict[str, deque[Any]] = defaultdict(deque)
        self.calls: list[str] = []

    def script(self, model: str, *steps: Any) -> None:
        self.steps[model].extend(steps)

    async def list_models(self) -> list[ModelInfo]:
        return []

    def _next(self, model: str) -> Any:
        self.calls.append(model)
        step = self.steps[model].popleft() if self.steps[model] else "ok"
        if isinstance(step, Takes):
            self.clock.now += step.seconds
            step = step.then
        if isinstance(step, BaseException):
            raise step
        return step

    async def complete(self, request: ChatRequest, model: str) -> ChatCompletion:
        step = self._next(model)
        return step if isinstance(step, ChatCompletion) else answer(model)

    async def stream(self, request: ChatRequest, model: str) -> AsyncGenerator[ChatCompletionChunk, None]:
        step = self._next(model)
        for sent, text in enumerate(("Hello", " there", ".")):
            if isinstance(step, Breaks) and sent == step.chunks:
                raise step.error
            yield ChatCompletionChunk(
                id="c", created=1, model=model, choices=[ChunkChoice(delta=ChoiceDelta(content=text))]
            )


class ScriptedMock(Scripted):
    """The same, declared scripted as the offline mock is: its failures say nothing about its health."""

    scripted = True


class Observed:
    def __init__(self) -> None:
        self.attempts: list[tuple[str, Outcome]] = []
        self.fallbacks: list[str] = []

    def attempt_finished(
        self, target: str, outcome: Outcome, seconds: float, error: BaseException | None = None
    ) -> None:
        self.attempts.append((target, outcome))

    def fell_back(self, model: str, target: str) -> None:
        self.fallbacks.append(target)


def answer(model: str, tool_arguments: str | None = None) -> ChatCompletion:
    message = CompletionMessage(content="ok")
    if tool_arguments is not None:
        call: ToolCall = FunctionToolCall(
            id="call_1", function=FunctionCall(name="get_weather", arguments=tool_arguments)
        )
        message = CompletionMessage(content=None, tool_calls=[call])
    return ChatCompletion(
        id="chatcmpl-1", created=1, model=model, choices=[CompletionChoice(message=message, finish_reason="stop")]
    )


def rate_limited(retry_after: float | None = None) -> UpstreamRateLimited:
    return UpstreamRateLimited("p answered 429: slow down", provider="p", retry_after=retry_after)


def server_error() -> UpstreamError:
    return UpstreamError("p answered 500: oops", provider="p")


def request(model: str, **fields: Any) -> ChatRequest:
    body = {"model": model, "messages": [{"role": "user", "content": "Weather in 'Paris'?"}], **fields}
    return ChatRequest.decode(json.dumps(body).encode())


@dataclass
class Setup:
    clock: FakeClock
    provider: Scripted
    board: LocalHealthBoard
    router: Router
    observed: Observed


def setup(aliases: dict[str, Any] | None = None, provider_class: type[Scripted] = Scripted, **routing: Any) -> Setup:
    clock = FakeClock()
    provider = provider_class(clock)
    values = {"max_attempts": 3, "backoff_initial": 0.2, "retry_after_cap": 10, "cooldown": 30} | routing
    settings = Settings(models=aliases or {}, routing=RoutingSettings(**values))
    board = LocalHealthBoard(
        failure_threshold=settings.routing.failure_threshold,
        cooldown=settings.routing.cooldown,
        rate_limit_cooldown=settings.routing.rate_limit_cooldown,
        max_targets=100,
        clock=clock,
    )
    providers = {"p": provider}
    planner = Planner(providers, ModelCatalog(providers), settings, rng=HalfRandom())
    observed = Observed()
    router = Router(
        planner, board, settings.routing, clock=clock, sleep=clock.sleep, rng=HalfRandom(), observer=observed
    )
    return Setup(clock, provider, board, router, observed)


async def fails(coroutine: Any) -> RouterError:
    with pytest.raises(RouterError) as raised:
        await coroutine
    return raised.value


async def circuit(s: Setup, target: str) -> tuple[str, int]:
    (status,) = await s.board.status([target], [None])
    return status.state.value, status.consecutive_failures


# ------------------------------------------------------------------------------------- transient failures


async def test_a_429_with_retry_after_is_retried_on_the_same_target_after_it() -> None:
    s = setup()
    s.provider.script("a", rate_limited(retry_after=1.5))

    routed = await s.router.complete(request("p/a"))

    assert (routed.target.name, routed.attempts) == ("p/a", 2)
    assert s.clock.slept == [1.5]
    assert s.provider.calls == ["a", "a"]


async def test_a_429_without_retry_after_waits_the_rate_limit_cooldown() -> None:
    s = setup(rate_limit_cooldown=2.5)
    s.provider.script("a", rate_limited())

    routed = await s.router.complete(request("p/a"))

    assert routed.attempts == 2
    assert s.clock.slept == [2.5]


async def test_a_429_moves_on_at_once_when_another_target_may_answer() -> None:
    s = setup({"two": {"targets": ["p/a", "p/b"]}})
    s.provider.script("a", rate_limited(retry_after=7))

    routed = await s.router.complete(request("two"))

    assert (routed.target.name, routed.attempts) == ("p/b", 2)
    assert s.clock.slept == []


async def test_a_429_is_waited_out_when_no_other_target_answers() -> None:
    s = setup({"two": {"targets": ["p/a", "p/b"]}})
    s.provider.script("a", rate_limited(retry_after=7))
    s.provider.script("b", *[UpstreamError("p answered 500", provider="p")] * 3)

    routed = await s.router.complete(request("two"))

    assert (routed.target.name, routed.attempts) == ("p/a", 5)
    assert s.provider.calls == ["a", "b", "b", "b", "a"]
    assert sum(s.clock.slept) == pytest.approx(7)  # b's backoffs, then the rest of a's Retry-After


async def test_a_retry_after_over_the_cap_moves_on_and_the_target_is_left_alone() -> None:
    s = setup({"two": {"targets": ["p/a", "p/b"]}})
    s.provider.script("a", rate_limited(retry_after=60))

    first = await s.router.complete(request("two"))
    second = await s.router.complete(request("two"))

    assert (first.target.name, first.attempts) == ("p/b", 2)
    assert (second.target.name, second.attempts) == ("p/b", 1)  # `a` is rate limited for 60 s: put last
    assert s.clock.slept == []
    assert s.provider.calls == ["a", "b", "b"]
    assert s.observed.fallbacks == ["p/a"]


async def test_5xx_is_retried_with_exponential_backoff_and_jitter_from_the_injected_rng() -> None:
    s = setup()
    s.provider.script("a", server_error(), server_error())

    routed = await s.router.complete(request("p/a"))

    assert routed.attempts == 3
    # 0.2 s, then 0.4 s, each plus half of 0.2 s of jitter (the fake rng draws 0.5).
    assert s.clock.slept == pytest.approx([0.3, 0.5])


async def test_a_target_that_keeps_failing_uses_its_attempts_then_hands_over() -> None:
    s = setup({"two": {"targets": ["p/a", "p/b"]}})
    s.provider.script("a", server_error(), server_error(), server_error())

    routed = await s.router.complete(request("two"))

    assert (routed.target.name, routed.attempts) == ("p/b", 4)
    assert [outcome for _, outcome in s.observed.attempts] == [Outcome.FAILURE] * 3 + [Outcome.SUCCESS]


async def test_a_timeout_is_retried() -> None:
    s = setup()
    s.provider.script("a", UpstreamTimeout("p/a did not answer within 5.0 s.", provider="p"))

    routed = await s.router.complete(request("p/a"))

    assert routed.attempts == 2
    assert s.clock.slept == pytest.approx([0.3])


async def test_per_request_overrides_limit_attempts() -> None:
    s = setup()
    s.provider.script("a", server_error(), server_error())

    error = await fails(s.router.complete(request("p/a"), Overrides(max_attempts=1)))

    assert error.message == "p answered 500: oops"
    assert s.provider.calls == ["a"]


# ------------------------------------------------------------------- targets that cannot serve, the client


async def test_a_target_that_cannot_serve_the_request_is_passed_over_at_once() -> None:
    s = setup({"two": {"targets": ["p/a", "p/b"]}})
    s.provider.script("a", UpstreamCannotServe("p answered 404: no endpoints support tools", provider="p"))

    routed = await s.router.complete(request("two"))

    assert (routed.target.name, routed.attempts) == ("p/b", 2)
    assert s.clock.slept == []
    assert await circuit(s, "p/a") == ("closed", 0)  # says nothing about `a`'s health


async def test_an_invalid_request_goes_straight_back_to_the_client() -> None:
    s = setup({"two": {"targets": ["p/a", "p/b"]}})
    rejected = UpstreamRejected("p answered 422: temperature must be at most 2", provider="p", status=422)
    s.provider.script("a", rejected)

    error = await fails(s.router.complete(request("two")))

    assert error is rejected
    assert s.provider.calls == ["a"]


async def test_when_every_target_fails_the_error_says_what_happened_to_each() -> None:
    s = setup({"two": {"targets": ["p/a", "p/b"]}}, max_attempts=2)
    s.provider.script("a", server_error(), server_error())
    s.provider.script("b", UpstreamCannotServe("p answered 404: no such model", provider="p"))

    error = await fails(s.router.complete(request("two")))

    assert error.http_status == 502
    assert error.message == (
        "No target of 'two' could answer. Tried: p/a: p answered 500: oops (2 attempts); "
        "p/b: p answered 404: no such model"
    )


# ----------------------------------------------------------------------------- open circuit, max_concurrent


async def open_circuit(s: Setup, target: str) -> None:
    for _ in range(s.board.failure_threshold):
        assert await s.board.acquire(target, None, None)
        await s.board.release(target, None, Outcome.FAILURE, None, None)


async def test_a_target_whose_circuit_is_open_is_skipped() -> None:
    s = setup({"two": {"targets": ["p/a", "p/b"]}}, failure_threshold=2)
    await open_circuit(s, "p/a")

    routed = await s.router.complete(request("two"))

    assert (routed.target.name, routed.attempts) == ("p/b", 1)
    assert s.provider.calls == ["b"]


async def test_a_target_not_tried_is_reported_as_not_tried_and_why() -> None:
    s = setup(failure_threshold=2, cooldown=30)
    await open_circuit(s, "p/a")

    error = await fails(s.router.complete(request("p/a")))

    assert isinstance(error, TargetUnavailable)
    assert error.message == (
        "p/a was not tried: its circuit is open after 2 failures in a row, and a probe may try it in 30.0 s."
    )
    assert error.retry_after == 30
    assert s.provider.calls == []
    assert s.clock.slept == []  # 30 s is over retry_after_cap: not worth waiting for


async def test_an_open_circuit_that_ends_within_the_cap_is_waited_for_when_nothing_else_answered() -> None:
    s = setup(failure_threshold=2, cooldown=5, retry_after_cap=10)
    await open_circuit(s, "p/a")

    routed = await s.router.complete(request("p/a"))

    assert (routed.target.name, routed.attempts) == ("p/a", 1)  # the probe, and it succeeded
    assert s.clock.slept == [5]
    assert await circuit(s, "p/a") == ("closed", 0)


async def test_a_target_at_max_concurrent_is_skipped() -> None:
    s = setup({"two": {"targets": [{"model": "p/a", "max_concurrent": 1}, "p/b"]}})
    assert await s.board.acquire("p/a", None, 1)  # another request holds `a`'s only slot

    routed = await s.router.complete(request("two"))

    assert routed.target.name == "p/b"
    assert s.provider.calls == ["b"]


async def test_a_busy_target_alone_is_waited_for_until_a_slot_frees() -> None:
    s = setup({"one": {"targets": [{"model": "p/a", "max_concurrent": 1}]}}, backoff_initial=0.2)
    assert await s.board.acquire("p/a", None, 1)

    async def other_request_ends() -> None:
        await s.board.release("p/a", None, Outcome.SUCCESS, 0.1, None)

    s.clock.on_sleep.append(other_request_ends)
    routed = await s.router.complete(request("one"))

    assert (routed.target.name, routed.attempts) == ("p/a", 1)
    assert s.clock.slept == pytest.approx([0.2])


async def test_a_busy_target_says_so_when_it_never_frees() -> None:
    s = setup({"one": {"targets": [{"model": "p/a", "max_concurrent": 1}]}}, timeout=1)
    assert await s.board.acquire("p/a", None, 1)

    error = await fails(s.router.complete(request("one")))

    assert isinstance(error, TargetUnavailable)
    assert error.message == "p/a was not tried: it is at its limit of 1 requests in flight."
    assert len(s.clock.slept) == 4  # checked again every 0.2 s until the next check would pass the deadline
    assert s.provider.calls == []


# ---------------------------------------------------------------------------------------------- deadline


async def test_the_deadline_bounds_the_whole_request() -> None:
    s = setup({"two": {"targets": ["p/a", "p/b"]}}, timeout=10)
    s.provider.script("a", Takes(10, UpstreamTimeout("p/a did not answer within 10.0 s.", provider="p")))

    error = await fails(s.router.complete(request("two")))

    assert isinstance(error, UpstreamTimeout)
    assert error.code == "deadline_exceeded"
    assert error.message == "No target of 'two' could answer. Tried: p/a: p/a did not answer within 10.0 s."
    assert s.provider.calls == ["a"]


async def test_a_retry_that_would_pass_the_deadline_moves_on_at_once() -> None:
    s = setup({"two": {"targets": ["p/a", "p/b"]}}, timeout=5)
    s.provider.script("a", rate_limited(retry_after=6))

    routed = await s.router.complete(request("two"), Overrides(timeout=5))

    assert routed.target.name == "p/b"
    assert s.clock.slept == []


# ------------------------------------------------------------------------------------------ tool-call guard


async def test_the_guard_retry_asks_the_same_target_again() -> None:
    s = setup({"guarded": {"targets": ["p/a", "p/b"], "tool_call_guard": "retry"}})
    s.provider.script("a", answer("a", tool_arguments='{"city": '))

    routed = await s.router.complete(request("guarded", tools=[WEATHER]))

    assert (routed.target.name, routed.attempts) == ("p/a", 2)
    assert s.provider.calls == ["a", "a"]
    assert await circuit(s, "p/a") == ("closed", 0)  # the model's mistake, not the target's failure


async def test_the_guard_fallback_moves_on() -> None:
    s = setup({"guarded": {"targets": ["p/a", "p/b"], "tool_call_guard": "fallback"}})
    s.provider.script("a", answer("a", tool_arguments='{"town": "Paris"}'))

    routed = await s.router.complete(request("guarded", tools=[WEATHER]))

    assert (routed.target.name, routed.attempts) == ("p/b", 2)


# ------------------------------------------------------------------------------------------------ streams


async def texts(stream: Any) -> list[str]:
    return [chunk.choices[0].delta.content async for chunk in stream]


async def test_a_stream_failing_before_its_first_chunk_falls_back() -> None:
    s = setup({"two": {"targets": ["p/a", "p/b"]}})
    s.provider.script("a", server_error(), server_error(), server_error())

    stream = await s.router.open_stream(request("two", stream=True))

    assert (stream.target.name, stream.attempts) == ("p/b", 4)
    assert await texts(stream) == ["Hello", " there", "."]
    await stream.aclose()


async def test_a_stream_failing_after_its_first_chunk_is_never_sent_elsewhere() -> None:
    s = setup({"two": {"targets": ["p/a", "p/b"]}})
    s.provider.script("a", Breaks(chunks=2, error=server_error()))

    stream = await s.router.open_stream(request("two", stream=True))
    received: list[str] = []

    async def read() -> None:
        async for chunk in stream:
            received.append(str(chunk.choices[0].delta.content))

    with pytest.raises(UpstreamError) as raised:
        await read()
    await stream.aclose()

    assert received == ["Hello", " there"]
    assert raised.value.message == "p answered 500: oops"
    assert s.provider.calls == ["a"]
    assert await circuit(s, "p/a") == ("closed", 1)  # counted against `a`


# ------------------------------------------------------------------------ messages that say what happened


async def test_a_circuit_opened_by_this_requests_own_failures_leaves_the_upstreams_error() -> None:
    s = setup(failure_threshold=2, max_attempts=3)
    s.provider.script("a", server_error(), server_error())

    error = await fails(s.router.complete(request("p/a")))

    # Two attempts failed and opened the circuit, so there was no third: the client hears the failure.
    assert error.message == "p answered 500: oops"
    assert error.http_status == 502
    assert s.provider.calls == ["a", "a"]
    assert len(s.observed.attempts) == 2


async def test_with_several_targets_the_error_says_which_were_not_tried_again() -> None:
    s = setup({"two": {"targets": ["p/a", "p/b"]}}, failure_threshold=2, max_attempts=3)
    s.provider.script("a", server_error(), server_error())
    s.provider.script("b", UpstreamCannotServe("p answered 404: no such model", provider="p"))

    error = await fails(s.router.complete(request("two")))

    assert error.message == (
        "No target of 'two' could answer. Tried: p/a: p answered 500: oops (2 attempts); then not tried again: "
        "its circuit is open after 2 failures in a row, and a probe may try it in 29.5 s; "
        "p/b: p answered 404: no such model"
    )


async def test_a_scripted_providers_failures_never_open_its_circuit() -> None:
    s = setup(provider_class=ScriptedMock, failure_threshold=2, max_attempts=2)
    for _ in range(5):
        s.provider.script("server-error", server_error(), server_error())
        s.provider.script("rate-limited", rate_limited(retry_after=1), rate_limited(retry_after=1))

        failed = await fails(s.router.complete(request("p/server-error")))
        limited = await fails(s.router.complete(request("p/rate-limited")))

        assert failed.message == "p answered 500: oops"
        assert limited.http_status == 429
    assert s.provider.calls.count("server-error") == 10  # every request made both its attempts
    assert await circuit(s, "p/server-error") == ("closed", 0)
    assert s.observed.attempts[0] == ("p/server-error", Outcome.FAILURE)  # metrics still see the failure


async def test_a_scripted_provider_still_keeps_no_health_for_models_it_does_not_have() -> None:
    s = setup(provider_class=ScriptedMock)
    s.provider.script("no-such-scenario", ModelNotFound("The mock provider has no scenario 'no-such-scenario'."))

    error = await fails(s.router.complete(request("p/no-such-scenario")))

    assert error.http_status == 404
    assert await s.board.snapshot() == []
