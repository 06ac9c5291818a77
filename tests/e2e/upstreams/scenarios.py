"""The scenarios every scripted dialect plays: which one a model name picks, and what it answers.

The upstream model name picks the scenario, as the router's mock provider does:

    tool            one tool call (the first tool offered); text once the last message is a tool result
    parallel        two tool calls in one turn
    text            a text answer
    noargs          a tool call whose arguments are only ever ""
    no-index        two tool calls whose stream deltas carry no `index`
    reused-index    two tool calls that both stream on index 0, told apart only by id (Ollama's habit)
    whole-call      a tool call that streams whole in one delta
    reasoning       reasoning text (signed, where the dialect signs it), then a tool call; text after a tool result
    rate-limited    429 with Retry-After: 7
    overloaded      529 (Anthropic's status for an overloaded API)
    server-error    500
    bad-key         401 whose message quotes the key it was sent
    bad-request     400 for a request the upstream judges invalid
    error-in-200    HTTP 200 whose answer failed (finish_reason "error"); mid-stream for streams
    mid-stream-error  streams some text, then an error event
    hang            streams one chunk, then waits until the client goes away
    slow            waits 5 s before answering
    delay           waits 0.3 s before answering
    fail-once       429 (Retry-After: 1) on the first attempt of each request, then answers like `tool`
    error-once      500 on the first attempt of each request, then answers like `tool`
    down            503, always
    switchable      503 while `Upstream.switched_down` is set, else answers like `tool`
    flaky           fails 3 attempts in 10 to each model (500 or 429), never twice in a row; else like `tool`
    no-tool-endpoints  OpenRouter's 404 "No endpoints found that support tool use"
    context-too-long   400 context_length_exceeded
    bad-args        a tool call whose arguments are not JSON
    schema-invalid  a tool call whose arguments miss a required property
    bad-args-once   `bad-args` on the first attempt of each request, then `tool`
    missing-...     404: no such model (any name that starts with `missing`)
    always-tool     calls the first tool offered on every turn, tool results or not (an agent that never stops)
    correcting      calls the first tool with arguments that are not JSON; once told of the error, calls it
                    with good arguments; then answers in text (an agent correcting itself)

and, whatever the dialect, the misbehaviours in `tests.e2e.upstreams.misbehaviour`. Before any scenario, a
request the provider's own API would refuse (`Asked.rejected`: a rule of its dialect, such as Anthropic's
thinking blocks before a tool-use turn) gets a 400 saying why, as the real API would.

The scenario is the last segment of the model id without its variant (`free/tool:free` plays `tool`); an
unknown one plays `tool`. "Each request" is told apart by the text of its last user message.

A scenario decides what happens in terms no provider owns (a `Failure`, an `Answer`, a `StreamPlan` of
neutral events); each dialect renders that in its own wire format (`tests.e2e.upstreams.dialect`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "ARGS",
    "ARGS_2",
    "KEY_IN_ERRORS",
    "REASONING",
    "TEXT",
    "Answer",
    "ArgumentsPiece",
    "Asked",
    "Attempt",
    "CallOpened",
    "Event",
    "Failure",
    "FailureKind",
    "Finished",
    "Opened",
    "ReasoningPiece",
    "StreamPlan",
    "TextPiece",
    "ToolCall",
    "answer",
    "delay",
    "failure",
    "stream_plan",
]

ARGS = '{"location": "Paris, France", "unit": "celsius"}'
ARGS_2 = '{"symbol": "ACME"}'
TEXT = "Hello from the scripted upstream."
REASONING = "The user wants the weather; call the tool."
STREAMED_REASONING = ("The user wants ", "the weather.")
KEY_IN_ERRORS = "the key you sent"
ARGUMENT_FRAGMENT = 9  # characters per streamed argument fragment: splits mid-token, as real upstreams do


@dataclass(frozen=True)
class Asked:
    """What one chat request asked for, read from whichever dialect it was sent in."""

    model: str  # the upstream model id, as sent
    marker: str  # the text of the last user message: what tests use to tell their requests apart
    tools: tuple[str, ...] = ()  # the names of the tools offered, in order
    tool_result: str | None = None  # the content of the tool result the conversation ends with
    reasoning: str | None = None  # the reasoning sent back on the last assistant turn
    stream: bool = False
    key: str = ""  # the provider key the request carried
    rejected: str | None = None  # why the provider's own API would refuse this request (None: it would not)

    @property
    def scenario(self) -> str:
        return self.model.rsplit("/", 1)[-1].split(":", 1)[0]


@dataclass(frozen=True)
class Attempt:
    """One request as the scenarios see it: what was asked, and what came before it."""

    asked: Asked
    number: int = 1  # attempts of this request (same marker, same model), counting this one
    model_count: int = 1  # requests to this model so far, counting this one (what `flaky` counts)
    down: bool = False  # `Upstream.switched_down` when it arrived


FailureKind = Literal[
    "rate_limited",
    "overloaded",
    "server_error",
    "bad_key",
    "invalid_request",
    "unavailable",
    "no_tool_endpoints",
    "context_too_long",
    "model_not_found",
]


@dataclass(frozen=True)
class Failure:
    """An error answer, sent before any byte of a body."""

    status: int
    kind: FailureKind
    message: str
    retry_after: str | None = None


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Answer:
    """A successful HTTP answer: the response id the dialect minted, and what the model said."""

    id: str
    created: int
    scenario: str
    text: str
    calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None
    failed_in_band: bool = False  # HTTP 200, but the answer failed (`error-in-200`)

    @property
    def finish(self) -> Literal["tool_calls", "stop"]:
        return "tool_calls" if self.calls else "stop"


# ---------------------------------------------------------------------------------------------- failures


def delay(asked: Asked) -> float:
    """Seconds to wait before answering."""
    return {"slow": 5.0, "delay": 0.3}.get(asked.scenario, 0.0)


def failure(attempt: Attempt) -> Failure | None:
    """The error this attempt gets, if its scenario fails it."""
    scenario, first = attempt.asked.scenario, attempt.number == 1
    if attempt.asked.rejected is not None:
        return Failure(400, "invalid_request", attempt.asked.rejected)
    if scenario == "rate-limited":
        return Failure(429, "rate_limited", "Rate limit exceeded: free-models-per-minute", retry_after="7")
    if scenario == "overloaded":
        return Failure(529, "overloaded", "Overloaded")
    if scenario == "server-error" or (scenario == "error-once" and first):
        return Failure(500, "server_error", "Internal Server Error")
    if scenario == "bad-key":
        return Failure(401, "bad_key", f"Incorrect API key provided: {attempt.asked.key} ({KEY_IN_ERRORS})")
    if scenario == "bad-request":
        message = "The `reasoning_content` in the thinking mode must be passed back to the API."
        return Failure(400, "invalid_request", message)
    if scenario == "fail-once" and first:
        return Failure(429, "rate_limited", "Rate limit exceeded", retry_after="1")
    if scenario == "down" or (scenario == "switchable" and attempt.down):
        return Failure(503, "unavailable", "No available provider")
    if scenario == "flaky" and attempt.model_count % 10 in (1, 4, 7):
        if attempt.model_count % 20 < 10:
            return Failure(500, "server_error", "Internal Server Error")
        return Failure(429, "rate_limited", "Rate limit exceeded")
    if scenario == "no-tool-endpoints":
        message = (
            "No endpoints found that support tool use. To learn more about provider routing, visit: "
            "https://openrouter.ai/docs/guides/routing/provider-selection"
        )
        return Failure(404, "no_tool_endpoints", message)
    if scenario == "context-too-long":
        return Failure(400, "context_too_long", "This endpoint's maximum context length is 8192 tokens.")
    if scenario.startswith("missing"):
        return Failure(404, "model_not_found", f"{attempt.asked.model} is not a valid model ID")
    return None


# ----------------------------------------------------------------------------------------------- answers


def answer(attempt: Attempt, *, response_id: str, created: int, call_id: Callable[[int], str]) -> Answer:
    """What the model says, with ids in the dialect's own formats."""
    asked, scenario = attempt.asked, attempt.asked.scenario
    text = TEXT if asked.tool_result is None else f"The tool said: {asked.tool_result}"
    return Answer(
        id=response_id,
        created=created,
        scenario=scenario,
        text=text,
        calls=tuple(ToolCall(call_id(n), name, arguments) for n, (name, arguments) in enumerate(_calls(attempt))),
        reasoning=REASONING if scenario == "reasoning" else None,
        failed_in_band=scenario == "error-in-200",
    )


def _calls(attempt: Attempt) -> list[tuple[str, str]]:
    """(name, arguments) of the calls the scenario makes."""
    asked, scenario = attempt.asked, attempt.asked.scenario
    if asked.tools and scenario == "always-tool":
        return [(asked.tools[0], ARGS)]
    if asked.tools and scenario == "correcting":
        if asked.tool_result is None:
            return [(asked.tools[0], '{"location": "Paris", ')]
        return [(asked.tools[0], ARGS)] if asked.tool_result.startswith("Error:") else []
    if not asked.tools or asked.tool_result is not None or scenario in ("text", "mid-stream-error", "slow"):
        return []
    first, second = asked.tools[0], asked.tools[-1]
    if scenario == "noargs":
        return [(first, "")]
    if scenario == "bad-args" or (scenario == "bad-args-once" and attempt.number == 1):
        return [(first, '{"location": "Paris", ')]
    if scenario == "schema-invalid":
        return [(first, '{"unit": "celsius"}')]
    if scenario in ("parallel", "no-index", "reused-index"):
        return [(first, ARGS), (second, ARGS_2)]
    return [(first, ARGS)]


# ----------------------------------------------------------------------------------------------- streams


@dataclass(frozen=True)
class Opened:
    """The assistant message starts."""


@dataclass(frozen=True)
class ReasoningPiece:
    text: str


@dataclass(frozen=True)
class TextPiece:
    text: str


@dataclass(frozen=True)
class CallOpened:
    """A tool call starts: its id and name, and all its arguments when it streams `whole`."""

    index: int  # among the answer's tool calls
    call: ToolCall
    whole: bool = False


@dataclass(frozen=True)
class ArgumentsPiece:
    index: int
    call: ToolCall
    text: str


@dataclass(frozen=True)
class Finished:
    """The last event of a complete answer: where its finish reason (and some dialects' usage) goes."""


Event = Opened | ReasoningPiece | TextPiece | CallOpened | ArgumentsPiece | Finished


@dataclass(frozen=True)
class StreamPlan:
    """The events a stream sends, in order, and how it ends after them.

    `complete`: the dialect's normal ending (usage, `[DONE]`, `message_stop`...). `broken`: the upstream fails
    mid-stream, with an error in the dialect's own form. `hang`: it stops sending and waits for the client to
    go away.
    """

    events: tuple[Event, ...]
    end: Literal["complete", "broken", "hang"] = "complete"


def stream_plan(answer: Answer, *, in_band_failures: bool) -> StreamPlan:
    """The answer as stream events; `in_band_failures`: whether the dialect reports `error-in-200` mid-stream."""
    events: list[Event] = [Opened()]
    if answer.reasoning:
        events += [ReasoningPiece(piece) for piece in STREAMED_REASONING]
    if not answer.calls:
        events += [TextPiece(word + " ") for word in answer.text.split(" ")]
    for n, call in enumerate(answer.calls):
        if answer.scenario == "whole-call":
            events.append(CallOpened(n, call, whole=True))
            continue
        events.append(CallOpened(n, call))
        fragments = range(0, len(call.arguments), ARGUMENT_FRAGMENT)
        events += [ArgumentsPiece(n, call, call.arguments[at : at + ARGUMENT_FRAGMENT]) for at in fragments]
    events.append(Finished())
    if answer.scenario == "hang":
        return StreamPlan(tuple(events[:1]), "hang")
    if answer.scenario == "mid-stream-error":
        return StreamPlan(tuple(events[:3]), "broken")
    if answer.failed_in_band and in_band_failures:
        return StreamPlan(tuple(events[:2]), "broken")
    return StreamPlan(tuple(events))
