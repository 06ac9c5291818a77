"""The answer events: what a routed model turn says, in the router's own terms, whichever provider spoke.

The pipeline turns each upstream answer (a stream's chunks, or a whole completion) into these events, with
OpenAI's invariants already enforced (`app.pipeline.normalise`); front ends only render them: chat chunks
and JSON (`app.chat`), Responses items and events (`app.responses.render`). Events come in batches, one
batch per upstream chunk, so a renderer can keep the upstream's chunking (one chunk out per chunk in)
without knowing why.

    TurnStarted     a routed model turn began: the completion's id, creation time and model
    TurnMeta        the turn's `system_fingerprint` / `service_tier`, when first known or changed
    ChoiceStarted   a choice's opening delta (role `assistant`), with `content`/`refusal` as the upstream
                    opened them (null, "", or left out)
    TextDelta, RefusalDelta, ReasoningDelta
                    text of the answer, of a refusal, of the model's reasoning
    ReasoningDetails  entries of the choice's `reasoning_details` (signed reasoning blocks a follow-up must
                    send back), as the upstream sent them; entries with the same `index` add up
    Logprobs        log probabilities that came with a chunk of a choice
    ToolCallStarted a tool call begins: its position in the turn (`index`, as chat numbers calls), id, name
                    (None until the upstream names it) and any arguments that came with it
    ToolCallDelta   more of a call: argument text, or a name that arrived after the first delta
    ToolCallDone    a call is complete (arguments `"{}"` when it took none); sent as its choice finishes
    ChoiceFinished  a choice's one finish reason, within OpenAI's values
    TurnUsage       what the turn cost, as the upstream reported it
    ToolRunning     a call the router starts running itself, between two turns (an agent's)
    ToolExecuted    a tool the router ran itself, between two turns (an agent's): its call and result
    ApprovalRequested
                    a call the router holds until the client approves it (a Responses `mcp` tool's); the
                    answer ends after it
    KeepAlive       nothing to say yet (tools are running); a stream sends a comment so no one times out

A turn's tool calls are numbered from 0 in each turn: consumers that span turns (a Responses stream, a
tool loop) key calls by turn, never by `index` alone.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UnsetType

from providers.schema import Usage

__all__ = [
    "AnswerEvent",
    "ApprovalRequested",
    "ChoiceFinished",
    "ChoiceStarted",
    "KeepAlive",
    "Logprobs",
    "ReasoningDelta",
    "ReasoningDetails",
    "RefusalDelta",
    "TextDelta",
    "ToolCallDelta",
    "ToolCallDone",
    "ToolCallStarted",
    "ToolExecuted",
    "ToolFailure",
    "ToolRunning",
    "TurnMeta",
    "TurnStarted",
    "TurnUsage",
]


class _Event(msgspec.Struct, frozen=True, gc=False):
    """Events hold only strings and numbers: no reference cycles, so the garbage collector can skip them."""


class TurnStarted(_Event, frozen=True, gc=False):
    id: str
    created: int
    model: str


class TurnMeta(_Event, frozen=True, gc=False):
    system_fingerprint: str | UnsetType
    service_tier: str | UnsetType


class ChoiceStarted(_Event, frozen=True, gc=False):
    choice: int
    content: str | None | UnsetType
    refusal: str | None | UnsetType


class TextDelta(_Event, frozen=True, gc=False):
    choice: int
    text: str


class RefusalDelta(_Event, frozen=True, gc=False):
    choice: int
    text: str


class ReasoningDelta(_Event, frozen=True, gc=False):
    choice: int
    text: str


class ReasoningDetails(_Event, frozen=True):
    choice: int
    details: list[dict[str, Any]]


class Logprobs(_Event, frozen=True):
    choice: int
    logprobs: dict[str, Any]


class ToolCallStarted(_Event, frozen=True, gc=False):
    choice: int
    index: int
    id: str
    name: str | None
    arguments: str


class ToolCallDelta(_Event, frozen=True, gc=False):
    choice: int
    index: int
    name: str | None
    arguments: str


class ToolCallDone(_Event, frozen=True, gc=False):
    choice: int
    index: int
    id: str
    name: str
    arguments: str


class ChoiceFinished(_Event, frozen=True, gc=False):
    choice: int
    finish_reason: str


class TurnUsage(_Event, frozen=True):
    usage: Usage


class ToolFailure(msgspec.Struct, frozen=True, gc=False):
    """Why a call the router ran did not succeed: the tool answered with an error (`tool`), the router could
    not get a usable answer (`http`, with the status it would answer), or the call was not valid for the
    tool (`protocol`: arguments that are not JSON, or that its schema refuses; JSON-RPC's -32602)."""

    kind: Literal["tool", "http", "protocol"]
    message: str
    code: int = 0


class ToolRunning(_Event, frozen=True, gc=False):
    """A call the router starts running: `server` is the toolset (as the client labels it), `name` the tool's
    name there; `approval_request_id` the approval it runs on, if the client had to approve it."""

    call_id: str
    server: str
    name: str
    arguments: str
    approval_request_id: str | None = None


class ToolExecuted(_Event, frozen=True, gc=False):
    """A call the router executed (announced by a `ToolRunning` of the same `call_id`): `output` is what the
    model was given, and `failure` is set when the call did not succeed (the model was told why)."""

    call_id: str
    server: str
    name: str
    arguments: str
    output: str
    failure: ToolFailure | None = None
    approval_request_id: str | None = None


class ApprovalRequested(_Event, frozen=True, gc=False):
    """A call the model asked for that the router does not run until the client approves it."""

    server: str
    name: str
    arguments: str


class KeepAlive(_Event, frozen=True, gc=False):
    pass


AnswerEvent = (
    TurnStarted
    | TurnMeta
    | ChoiceStarted
    | TextDelta
    | RefusalDelta
    | ReasoningDelta
    | ReasoningDetails
    | Logprobs
    | ToolCallStarted
    | ToolCallDelta
    | ToolCallDone
    | ChoiceFinished
    | TurnUsage
    | ToolRunning
    | ToolExecuted
    | ApprovalRequested
    | KeepAlive
)
