"""A chat answer as a Responses answer: output items, status and usage.

The output is made of, in this order: a `reasoning` item when the model sent reasoning text; a `message`
item with the answer's text (`output_text`, no annotations) or refusal; a `function_call` item per tool
call, whose `call_id` is the chat tool call's id. An answer with neither text nor tool calls still gets a
message (with empty text), so a client always finds one. The stream translator (`app.responses.stream`)
builds the same items from chunks.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TypeVar

import msgspec

from app.responses.items import (
    FunctionCall,
    ItemStatus,
    OutputContent,
    OutputItem,
    OutputMessage,
    OutputText,
    Reasoning,
    ReasoningText,
    Refusal,
)
from app.responses.wire import (
    IncompleteDetails,
    InputTokensDetails,
    OutputTokensDetails,
    ResponseObject,
    ResponseStatus,
    ResponseUsage,
    new_id,
)
from providers.schema import UNSET, FunctionToolCall

if TYPE_CHECKING:
    from msgspec import UnsetType

    from app.responses.decode import ResponsesRequest
    from providers.schema import ChatCompletion, CompletionMessage, Usage

__all__ = [
    "finished",
    "new_response",
    "outcome",
    "output_items",
    "response_from_completion",
    "response_usage",
]

T = TypeVar("T")


def new_response(request: ResponsesRequest) -> ResponseObject:
    """The response before any output (`in_progress`), echoing the request's settings as OpenAI does."""
    create = request.create
    return ResponseObject(
        id=new_id("resp"),
        created_at=int(time.time()),
        status="in_progress",
        model=create.model,
        instructions=create.instructions,
        max_output_tokens=create.max_output_tokens,
        parallel_tool_calls=create.parallel_tool_calls is not False,
        previous_response_id=create.previous_response_id,
        reasoning=create.reasoning,
        store=request.store,
        temperature=create.temperature,
        text=request.text,
        tool_choice=request.tool_choice or "auto",
        tools=request.tools,
        top_p=create.top_p,
        user=_given(create.user),
        metadata=create.metadata or {},
        service_tier=_given(create.service_tier),
        prompt_cache_key=_given(create.prompt_cache_key),
        safety_identifier=_given(create.safety_identifier),
        top_logprobs=_given(create.top_logprobs),
    )


def response_from_completion(response: ResponseObject, completion: ChatCompletion) -> ResponseObject:
    """The finished response for a (normalised) chat completion: its first choice is the answer."""
    choice = completion.choices[0] if completion.choices else None
    finish_reason = choice.finish_reason if choice else None
    status, _ = outcome(finish_reason)
    items = output_items(choice.message, incomplete=status == "incomplete") if choice else []
    return finished(
        response,
        model=completion.model,
        output=items or [_message([OutputText(text="")], "completed")],
        finish_reason=finish_reason,
        usage=completion.usage or None,
    )


def output_items(message: CompletionMessage, *, incomplete: bool) -> list[OutputItem]:
    """The output items of one chat answer, in OpenAI's order: reasoning, message, function calls."""
    status: ItemStatus = "incomplete" if incomplete else "completed"
    items: list[OutputItem] = []
    if message.reasoning_content:
        items.append(Reasoning(id=new_id("rs"), content=[ReasoningText(text=message.reasoning_content)], status=status))
    calls = [call for call in message.tool_calls or () if isinstance(call, FunctionToolCall)]
    content: list[OutputContent] = []
    if message.content or (message.content is not None and not calls):
        content.append(OutputText(text=message.content))
    if message.refusal:
        content.append(Refusal(refusal=message.refusal))
    if content or not calls:
        items.append(_message(content or [OutputText(text="")], status))
    items.extend(
        FunctionCall(
            id=new_id("fc"),
            call_id=call.id,
            name=call.function.name,
            arguments=call.function.arguments,
            status="completed",
        )
        for call in calls
    )
    return items


def outcome(finish_reason: str | None) -> tuple[ResponseStatus, IncompleteDetails | None]:
    """A response's status for the chat answer's finish reason: cut short answers are `incomplete`."""
    if finish_reason == "length":
        return "incomplete", IncompleteDetails(reason="max_output_tokens")
    if finish_reason == "content_filter":
        return "incomplete", IncompleteDetails(reason="content_filter")
    return "completed", None


def finished(
    response: ResponseObject,
    *,
    model: str,
    output: list[OutputItem],
    finish_reason: str | None,
    usage: Usage | None,
) -> ResponseObject:
    """A copy of the in-progress `response`, finished with this output."""
    status, details = outcome(finish_reason)
    return msgspec.structs.replace(
        response,
        status=status,
        incomplete_details=details,
        completed_at=int(time.time()) if status == "completed" else None,
        model=model or response.model,
        output=output,
        usage=response_usage(usage),
    )


def response_usage(usage: Usage | None) -> ResponseUsage | UnsetType:
    """Chat usage in the Responses API's names (left out when the upstream reported none)."""
    if usage is None:
        return UNSET
    prompt_details = usage.prompt_tokens_details or None
    completion_details = usage.completion_tokens_details or None
    cached = prompt_details.cached_tokens if prompt_details else None
    reasoning = completion_details.reasoning_tokens if completion_details else None
    # Counters an upstream left out or sent as null count as 0: the Responses API requires them all.
    input_tokens, output_tokens = usage.prompt_tokens or 0, usage.completion_tokens or 0
    return ResponseUsage(
        input_tokens=input_tokens,
        input_tokens_details=InputTokensDetails(cached_tokens=cached or 0),
        output_tokens=output_tokens,
        output_tokens_details=OutputTokensDetails(reasoning_tokens=reasoning or 0),
        total_tokens=usage.total_tokens or input_tokens + output_tokens,
    )


def _given(value: T | None) -> T | UnsetType:
    return UNSET if value is None else value


def _message(content: list[OutputContent], status: ItemStatus) -> OutputMessage:
    return OutputMessage(id=new_id("msg"), status=status, content=content)
