"""OpenAI's chat-completions wire format, as OpenAI-compatible providers speak it, quirks left to subclasses.

This module renders the shape every OpenAI-compatible provider shares: `/chat/completions`, `chat.completion`
bodies, `chat.completion.chunk` deltas and `data: [DONE]`. A provider's departures from it (ids, extra
fields, where usage goes, keep-alive lines, how it reports failures) are class attributes and small hooks
that its subclass sets. Besides the scripted scenarios, it plays three habits of real OpenAI-compatible
servers when the scenario asks: deltas without `index` (`no-index`), parallel calls sharing index 0
(`reused-index`) and a call sent whole in one delta (`whole-call`).
"""

from __future__ import annotations

import json
from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from tests.e2e.upstreams.dialect import Dialect
from tests.e2e.upstreams.scenarios import (
    ArgumentsPiece,
    Asked,
    CallOpened,
    Finished,
    Opened,
    ReasoningPiece,
    TextPiece,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from tests.e2e.upstreams.scenarios import Answer, Event, StreamPlan

__all__ = ["OpenAIWireDialect", "data"]


class OpenAIWireDialect(Dialect):
    """A provider that speaks OpenAI's wire format; the router forwards requests to it as the client sent them."""

    chat_path = "/chat/completions"
    models_path = "/models"

    usage: ClassVar[dict[str, Any]]  # the usage the provider reports, in its own shape
    stream_comment: ClassVar[str]  # the SSE comment a stream opens with
    role_on_every_delta: ClassVar[bool] = False
    chunk_fields: ClassVar[dict[str, Any]] = {}  # what the provider adds to every chunk
    final_delta: ClassVar[dict[str, Any]] = {"content": ""}  # the delta that carries the finish reason
    # Both ways: the field reasoning arrives in, and where the router must put it when a client sends it back.
    reasoning_key: ClassVar[str] = "reasoning_content"
    developer_role: ClassVar[str] = "developer"  # the role the router must send `developer` messages as
    # Whether the router forwards requests to it as the client sent them (`test_chat_passthrough.py` checks
    # those that it does); a configured server's quirk switches change what it receives.
    forwards_as_sent: ClassVar[bool] = True

    # ------------------------------------------------------------------------------------------- reading

    def read(self, body: dict[str, Any], headers: Mapping[str, str]) -> Asked:
        messages: list[dict[str, Any]] = body.get("messages") or []
        users = [m for m in messages if m.get("role") == "user"]
        content = users[-1].get("content") if users else ""
        assistants = [m for m in messages if m.get("role") == "assistant"]
        reasoning = assistants[-1].get(self.reasoning_key) if assistants else None
        last = messages[-1] if messages else {}
        return Asked(
            model=body["model"],
            marker=content if isinstance(content, str) else json.dumps(content),
            tools=tuple(tool["function"]["name"] for tool in body.get("tools") or [] if tool.get("type") == "function"),
            tool_result=f"{last.get('content')}" if last.get("role") == "tool" else None,
            reasoning=reasoning if isinstance(reasoning, str) else None,
            stream=bool(body.get("stream")),
            key=headers.get("authorization", "").removeprefix("Bearer "),
        )

    # --------------------------------------------------------------------------------------- plain answers

    def completion(self, answer: Answer) -> bytes:
        message: dict[str, Any] = {"role": "assistant", "content": None if answer.calls else answer.text}
        if answer.calls:
            message["tool_calls"] = [
                {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
                for call in answer.calls
            ]
        choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": answer.finish, "logprobs": None}
        body: dict[str, Any] = {
            "id": answer.id,
            "object": "chat.completion",
            "created": answer.created,
            "model": answer.scenario,
            "choices": [choice],
            "usage": self.usage,
        }
        self.shape_completion(body, answer)
        return json.dumps(body).encode()

    def shape_completion(self, body: dict[str, Any], answer: Answer) -> None:
        """Add the provider's own fields to a plain answer, in place."""

    # --------------------------------------------------------------------------------------------- streams

    def stream(self, answer: Answer, plan: StreamPlan) -> Iterator[str]:
        yield self.stream_comment
        for position, event in enumerate(plan.events):
            delta, finish = self._delta(answer, event)
            if self.role_on_every_delta:
                delta = {"role": "assistant", **delta}
            choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            chunk = {**self.envelope(answer), "choices": [choice]}
            self.shape_chunk(chunk, choice, finished=isinstance(event, Finished))
            yield data(chunk)
            yield from self.after_chunk(position)
        if plan.end == "broken":
            yield data(self.stream_error(answer))
        elif plan.end == "complete":
            yield from self.closing(answer)
            yield "data: [DONE]\n\n"

    def envelope(self, answer: Answer) -> dict[str, Any]:
        """The fields every chunk of the stream repeats."""
        return {
            "id": answer.id,
            "object": "chat.completion.chunk",
            "created": answer.created,
            "model": answer.scenario,
            **self.chunk_fields,
        }

    def shape_chunk(self, chunk: dict[str, Any], choice: dict[str, Any], *, finished: bool) -> None:
        """Add the provider's own fields to a chunk, in place; `finished`: the chunk carries the finish reason."""

    def after_chunk(self, position: int) -> Iterable[str]:
        """Frames the provider sends after the chunk at `position` (keep-alive comments)."""
        return ()

    def closing(self, answer: Answer) -> Iterable[str]:
        """Frames the provider sends after the last chunk of a complete stream, before `[DONE]`."""
        return ()

    @abstractmethod
    def stream_error(self, answer: Answer) -> dict[str, Any]:
        """The event a provider sends when it fails mid-stream."""

    def _delta(self, answer: Answer, event: Event) -> tuple[dict[str, Any], str | None]:
        """The delta that carries `event`, and the finish reason when it is the last."""
        reused = answer.scenario == "reused-index"
        match event:
            case Opened():
                return {"role": "assistant", "content": ""}, None
            case ReasoningPiece(text):
                return {"content": None, self.reasoning_key: text}, None
            case TextPiece(text):
                return {"content": text}, None
            case CallOpened(index, call, whole):
                head: dict[str, Any] = {
                    "index": 0 if reused else index,
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments if whole else ""},
                }
                if answer.scenario == "no-index":
                    del head["index"]
                return ({"tool_calls": [head]} if whole else {"content": None, "tool_calls": [head]}), None
            case ArgumentsPiece(index, call, text):
                part: dict[str, Any] = {"index": 0 if reused else index, "function": {"arguments": text}}
                if answer.scenario == "no-index":
                    del part["index"]
                if reused:
                    part["id"] = call.id  # repeated on every delta: the only way to tell the calls apart
                return {"tool_calls": [part]}, None
            case Finished():
                return dict(self.final_delta), answer.finish


def data(payload: dict[str, Any]) -> str:
    """One SSE `data:` frame."""
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
