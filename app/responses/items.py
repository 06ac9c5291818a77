"""Responses API items, the parts a conversation is made of: as clients send them and as the router answers.

Input items are decoded as leniently as OpenAI's own clients require: a message's content is a string or
a list of parts, assistant text comes back as `output_text` (an earlier answer replayed verbatim, as
LangChain does) or as `input_text`, and ids and statuses may be missing or null. Output items are what the
router writes, always whole: every field OpenAI marks required is present, `annotations` and `logprobs`
included, so strict clients can deserialise them.
"""

from __future__ import annotations

from typing import Any, Literal

from msgspec import UNSET, Struct, UnsetType

__all__ = [
    "FunctionCall",
    "FunctionCallInput",
    "FunctionCallOutput",
    "InputContent",
    "InputFile",
    "InputImage",
    "InputItem",
    "InputMessage",
    "InputText",
    "ItemStatus",
    "JsonObject",
    "OutputContent",
    "OutputItem",
    "OutputMessage",
    "OutputText",
    "Reasoning",
    "ReasoningInput",
    "ReasoningText",
    "Refusal",
    "SummaryText",
    "ToolOutputContent",
    "Wire",
    "as_input",
]

JsonObject = dict[str, Any]
ItemStatus = Literal["in_progress", "completed", "incomplete"]


class Wire(Struct, kw_only=True):
    """Base for every Responses wire type: `UNSET` fields are left out, `None` fields are written as null."""


# --------------------------------------------------------------------------------------------- content parts


class InputText(Wire, kw_only=True, tag_field="type", tag="input_text"):
    text: str


class InputImage(Wire, kw_only=True, tag_field="type", tag="input_image"):
    image_url: str | None = None
    file_id: str | None = None
    detail: str = "auto"


class InputFile(Wire, kw_only=True, tag_field="type", tag="input_file"):
    file_id: str | None = None
    file_data: str | UnsetType = UNSET
    filename: str | UnsetType = UNSET
    file_url: str | UnsetType = UNSET


class OutputText(Wire, kw_only=True, tag_field="type", tag="output_text"):
    text: str
    annotations: list[JsonObject] = []
    logprobs: list[JsonObject] = []


class Refusal(Wire, kw_only=True, tag_field="type", tag="refusal"):
    refusal: str


class ReasoningText(Wire, kw_only=True, tag_field="type", tag="reasoning_text"):
    text: str


class SummaryText(Wire, kw_only=True, tag_field="type", tag="summary_text"):
    text: str


InputContent = InputText | InputImage | InputFile | OutputText | Refusal
ToolOutputContent = InputText | InputImage | InputFile
OutputContent = OutputText | Refusal

# ----------------------------------------------------------------------------------------------- input items


class InputMessage(Wire, kw_only=True, tag_field="type", tag="message"):
    role: Literal["user", "system", "developer", "assistant"]
    content: str | list[InputContent]
    id: str | UnsetType | None = UNSET
    status: ItemStatus | UnsetType | None = UNSET


class FunctionCallInput(Wire, kw_only=True, tag_field="type", tag="function_call"):
    call_id: str
    name: str
    arguments: str
    id: str | UnsetType | None = UNSET
    status: ItemStatus | UnsetType | None = UNSET


class FunctionCallOutput(Wire, kw_only=True, tag_field="type", tag="function_call_output"):
    call_id: str
    output: str | list[ToolOutputContent]
    id: str | UnsetType | None = UNSET
    status: ItemStatus | UnsetType | None = UNSET


class ReasoningInput(Wire, kw_only=True, tag_field="type", tag="reasoning"):
    id: str | UnsetType | None = UNSET
    summary: list[SummaryText] = []
    content: list[ReasoningText] | UnsetType | None = UNSET
    encrypted_content: str | UnsetType | None = UNSET
    status: ItemStatus | UnsetType | None = UNSET


InputItem = InputMessage | FunctionCallInput | FunctionCallOutput | ReasoningInput

# ---------------------------------------------------------------------------------------------- output items


class OutputMessage(Wire, kw_only=True, tag_field="type", tag="message"):
    id: str
    role: Literal["assistant"] = "assistant"
    status: ItemStatus
    content: list[OutputContent]


class FunctionCall(Wire, kw_only=True, tag_field="type", tag="function_call"):
    id: str
    call_id: str
    name: str
    arguments: str
    status: ItemStatus


class Reasoning(Wire, kw_only=True, tag_field="type", tag="reasoning"):
    id: str
    summary: list[SummaryText] = []
    content: list[ReasoningText]
    status: ItemStatus


OutputItem = OutputMessage | FunctionCall | Reasoning


def as_input(item: OutputItem) -> InputItem:
    """An answer's item as the next request's input: how a stored conversation continues."""
    if isinstance(item, OutputMessage):
        return InputMessage(role="assistant", content=list(item.content), id=item.id, status=item.status)
    if isinstance(item, FunctionCall):
        return FunctionCallInput(
            call_id=item.call_id, name=item.name, arguments=item.arguments, id=item.id, status=item.status
        )
    return ReasoningInput(id=item.id, summary=list(item.summary), content=list(item.content), status=item.status)
