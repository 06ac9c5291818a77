"""A chat answer as a Responses answer: the response before any output, and its status and usage after.

`new_response` is the `in_progress` response, echoing the request's settings as OpenAI does (an `mcp`
tool without its `headers` and `authorization`: those are credentials). `finished` is that response with
its output, the status the chat answer's finish reason gives (`outcome`) and its usage in the Responses
API's names (`response_usage`). The output items come from the answer's events (`app.responses.stream`),
for a streamed answer and a whole one alike.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TypeVar

import msgspec

from app.responses.wire import (
    IncompleteDetails,
    InputTokensDetails,
    MCPTool,
    OutputTokensDetails,
    ResponseObject,
    ResponseStatus,
    ResponseUsage,
    new_id,
)
from providers.schema import UNSET

if TYPE_CHECKING:
    from msgspec import UnsetType

    from app.responses.decode import ResponsesRequest
    from app.responses.items import OutputItem
    from app.responses.wire import ResponseTool
    from providers.schema import Usage

__all__ = ["finished", "new_response", "outcome", "response_usage"]

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
        tools=[_echoed(tool) for tool in request.tools],
        top_p=create.top_p,
        user=_given(create.user),
        metadata=create.metadata or {},
        service_tier=_given(create.service_tier),
        prompt_cache_key=_given(create.prompt_cache_key),
        safety_identifier=_given(create.safety_identifier),
        top_logprobs=_given(create.top_logprobs),
    )


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


def _echoed(tool: ResponseTool) -> ResponseTool:
    if isinstance(tool, MCPTool):
        return msgspec.structs.replace(tool, headers=None, authorization=UNSET)
    return tool
