"""A whole answer from its events, and usage that adds up across turns.

A streamed answer is rendered as it arrives, but some consumers need it whole once it is over: the
Responses API's final response object (and the stored conversation), the request's accounting, and a tool
loop feeding the model's own turn back to it. `AnswerBuilder` assembles the same `ChatCompletion` a
non-streamed request would have returned, from the events a stream produced, with the usage of every turn
summed. `add_usage` is that sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.pipeline.events import (
    ChoiceFinished,
    Logprobs,
    ReasoningDelta,
    ReasoningDetails,
    RefusalDelta,
    TextDelta,
    ToolCallDone,
    TurnMeta,
    TurnStarted,
    TurnUsage,
)
from providers.schema import (
    UNSET,
    ChatCompletion,
    Choice,
    CompletionMessage,
    CompletionTokensDetails,
    FunctionCall,
    FunctionToolCall,
    PromptTokensDetails,
    Usage,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from msgspec import UnsetType

    from app.pipeline.events import AnswerEvent
    from providers.schema import ToolCall

__all__ = ["AnswerBuilder", "add_usage"]

# The fields of a `reasoning_details` entry that stream in pieces.
_CONCATENATED = frozenset({"text", "summary", "data", "signature"})


@dataclass(slots=True)
class _Choice:
    text: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    logprobs: dict[str, Any] | None = None
    finish_reason: str = "stop"

    def message(self) -> CompletionMessage:
        return CompletionMessage(
            content="".join(self.text) if self.text or not self.calls else None,
            refusal="".join(self.refusal) or None,
            tool_calls=list(self.calls) or UNSET,
            reasoning_content="".join(self.reasoning) or UNSET,
            reasoning_details=self.details or UNSET,
        )

    def add_details(self, details: list[dict[str, Any]]) -> None:
        """Streamed `reasoning_details` entries with the same `index` are pieces of one entry: their text, data
        and signature add up, as OpenAI's SDKs accumulate deltas; entries without an index stand alone."""
        for detail in details:
            index = detail.get("index")
            kept = next((each for each in self.details if isinstance(index, int) and each.get("index") == index), None)
            if kept is None:
                self.details.append(dict(detail))
                continue
            for key, value in detail.items():
                if key in _CONCATENATED and isinstance(value, str) and isinstance(kept.get(key), str):
                    kept[key] += value
                else:
                    kept.setdefault(key, value)

    def add_logprobs(self, logprobs: dict[str, Any]) -> None:
        """Chunks carry log probabilities for their own tokens: the whole answer's are their concatenation."""
        if self.logprobs is None:
            self.logprobs = {key: list(value) if isinstance(value, list) else value for key, value in logprobs.items()}
            return
        for key, value in logprobs.items():
            kept = self.logprobs.get(key)
            if isinstance(kept, list) and isinstance(value, list):
                kept.extend(value)
            elif value is not None:
                self.logprobs[key] = value


class AnswerBuilder:
    """Collects the events of one answer (one turn or several) into the completion they add up to."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.tool_calls = 0
        self._id = ""
        self._created = 0
        self._model = ""
        self._fingerprint: str | UnsetType = UNSET
        self._service_tier: str | UnsetType = UNSET
        self._choices: dict[int, _Choice] = {}

    def feed(self, events: Iterable[AnswerEvent]) -> None:
        for event in events:
            if isinstance(event, TextDelta):
                self._choice(event.choice).text.append(event.text)
            elif isinstance(event, ToolCallDone):
                call = FunctionToolCall(id=event.id, function=FunctionCall(name=event.name, arguments=event.arguments))
                self._choice(event.choice).calls.append(call)
                self.tool_calls += 1
            elif isinstance(event, ChoiceFinished):
                self._choice(event.choice).finish_reason = event.finish_reason
            elif isinstance(event, ReasoningDelta):
                self._choice(event.choice).reasoning.append(event.text)
            elif isinstance(event, RefusalDelta):
                self._choice(event.choice).refusal.append(event.text)
            elif isinstance(event, ReasoningDetails):
                self._choice(event.choice).add_details(event.details)
            elif isinstance(event, Logprobs):
                self._choice(event.choice).add_logprobs(event.logprobs)
            elif isinstance(event, TurnUsage):
                self.usage = add_usage(self.usage, event.usage)
            elif isinstance(event, TurnStarted):
                # The answer is the first turn's: its id, time and model, as a client saw them first.
                if not self._id:
                    self._id, self._created, self._model = event.id, event.created, event.model
            elif isinstance(event, TurnMeta):
                self._fingerprint, self._service_tier = event.system_fingerprint, event.service_tier

    def completion(self) -> ChatCompletion:
        """The answer so far as one chat completion (choices in index order)."""
        return ChatCompletion(
            id=self._id,
            created=self._created,
            model=self._model,
            choices=[
                Choice(
                    index=index, message=choice.message(), finish_reason=choice.finish_reason, logprobs=choice.logprobs
                )
                for index, choice in sorted(self._choices.items())
            ],
            usage=self.usage if self.usage is not None else UNSET,
            system_fingerprint=self._fingerprint,
            service_tier=self._service_tier,
        )

    def _choice(self, index: int) -> _Choice:
        choice = self._choices.get(index)
        if choice is None:
            choice = self._choices[index] = _Choice()
        return choice


def add_usage(total: Usage | None, turn: Usage) -> Usage:
    """`total` plus one more turn's usage, every counter summed (a counter one side lacks counts as 0)."""
    if total is None:
        return turn
    prompt = (total.prompt_tokens or 0) + (turn.prompt_tokens or 0)
    completion = (total.completion_tokens or 0) + (turn.completion_tokens or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=(total.total_tokens or 0) + (turn.total_tokens or 0),
        prompt_tokens_details=_add_details(
            PromptTokensDetails, total.prompt_tokens_details, turn.prompt_tokens_details
        ),
        completion_tokens_details=_add_details(
            CompletionTokensDetails, total.completion_tokens_details, turn.completion_tokens_details
        ),
    )


def _add_details(kind: type[Any], left: Any, right: Any) -> Any:
    if not left:
        return right
    if not right:
        return left
    sums: dict[str, int] = {}
    for name in kind.__struct_fields__:
        values = [value for value in (getattr(left, name), getattr(right, name)) if isinstance(value, int)]
        if values:
            sums[name] = sum(values)
    return kind(**sums)
