"""LangChain messages → OpenAI chat messages, as sent in the request body."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from langchain_llm_router._messages import DEVELOPER_ROLE_KEY, message_to_dict

from llm_router_fakes import completion, json_response

if TYPE_CHECKING:
    from llm_router_fakes import FakeRouter

CALL = {
    "name": "lookup",
    "args": {"city": "Zürich"},
    "id": "call_1",
    "type": "tool_call",
}


def test_system_and_user_roles_and_names() -> None:
    assert message_to_dict(SystemMessage("be brief")) == {
        "role": "system",
        "content": "be brief",
    }
    assert message_to_dict(HumanMessage("hi", name="ada")) == {
        "role": "user",
        "content": "hi",
        "name": "ada",
    }


@pytest.mark.parametrize(
    "message",
    [
        ChatMessage(content="obey", role="developer"),
        SystemMessage("obey", additional_kwargs={DEVELOPER_ROLE_KEY: "developer"}),
    ],
    ids=["chat-message", "system-message-flag"],
)
def test_developer_role(message: ChatMessage | SystemMessage) -> None:
    assert message_to_dict(message) == {"role": "developer", "content": "obey"}


def test_assistant_turn_that_only_calls_tools_has_null_content() -> None:
    result = message_to_dict(AIMessage("", tool_calls=[CALL]))

    assert result == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                # Non-ASCII stays readable instead of becoming \\u escapes.
                "function": {"name": "lookup", "arguments": '{"city": "Zürich"}'},
            }
        ],
    }


def test_assistant_text_is_kept_next_to_tool_calls() -> None:
    result = message_to_dict(AIMessage("Let me check.", tool_calls=[CALL], name="bot"))

    assert result["content"] == "Let me check."
    assert result["name"] == "bot"
    assert len(result["tool_calls"]) == 1


def test_invalid_tool_calls_are_replayed_verbatim() -> None:
    message = AIMessage(
        "",
        invalid_tool_calls=[
            {
                "name": "lookup",
                "args": '{"city": ',
                "id": "call_bad",
                "error": "bad JSON",
                "type": "invalid_tool_call",
            }
        ],
    )

    assert message_to_dict(message)["tool_calls"] == [
        {
            "id": "call_bad",
            "type": "function",
            "function": {"name": "lookup", "arguments": '{"city": '},
        }
    ]


def test_assistant_list_content_keeps_text_and_drops_tool_use_blocks() -> None:
    message = AIMessage(
        [
            {"type": "text", "text": "some text"},
            {"type": "tool_use", "id": "call_1", "name": "lookup", "input": {}},
        ],
        tool_calls=[CALL],
    )

    result = message_to_dict(message)

    assert result["content"] == "some text"
    assert [call["id"] for call in result["tool_calls"]] == ["call_1"]


def test_assistant_with_several_text_blocks_sends_text_parts() -> None:
    message = AIMessage([{"type": "text", "text": "one"}, "two"])

    assert message_to_dict(message)["content"] == [
        {"type": "text", "text": "one"},
        {"type": "text", "text": "two"},
    ]


def test_reasoning_content_is_sent_back_from_additional_kwargs() -> None:
    message = AIMessage("42", additional_kwargs={"reasoning_content": "6 times 7"})

    assert message_to_dict(message)["reasoning_content"] == "6 times 7"


def test_reasoning_content_is_sent_back_from_v1_reasoning_blocks() -> None:
    message = AIMessage(
        [
            {"type": "reasoning", "reasoning": "6 times 7"},
            {"type": "text", "text": "42"},
        ]
    )

    result = message_to_dict(message)

    assert result["reasoning_content"] == "6 times 7"
    assert result["content"] == "42"


def test_tool_result_with_error_status() -> None:
    message = ToolMessage(
        "Error: missing argument 'b'", tool_call_id="call_1", status="error", name="add"
    )

    # Chat completions has no status field: the content carries the failure.
    assert message_to_dict(message) == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "Error: missing argument 'b'",
    }


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        pytest.param(
            {"type": "image", "base64": "AAAA", "mime_type": "image/png"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            id="standard-base64",
        ),
        pytest.param(
            {"type": "image", "url": "https://example.com/cat.png"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            id="standard-url",
        ),
        pytest.param(
            {
                "type": "image_url",
                "image_url": {"url": "https://example.com/a.png", "detail": "low"},
            },
            {
                "type": "image_url",
                "image_url": {"url": "https://example.com/a.png", "detail": "low"},
            },
            id="openai-part",
        ),
        pytest.param(
            {"type": "image_url", "image_url": "https://example.com/a.png"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            id="legacy-string-url",
        ),
        pytest.param(
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/jpeg", "data": "BBB"},
            },
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,BBB"}},
            id="anthropic-base64",
        ),
        pytest.param(
            {"type": "text", "text": "look", "id": "blk_1", "annotations": []},
            {"type": "text", "text": "look"},
            id="text-extras-stripped",
        ),
    ],
)
def test_user_content_parts(block: dict[str, Any], expected: dict[str, Any]) -> None:
    result = message_to_dict(HumanMessage(content=[block]))

    assert result == {"role": "user", "content": [expected]}


def test_plain_strings_in_a_content_list_become_text_parts() -> None:
    result = message_to_dict(
        HumanMessage(content=["describe", {"type": "text", "text": "this"}])
    )

    assert result["content"] == [
        {"type": "text", "text": "describe"},
        {"type": "text", "text": "this"},
    ]


def test_unsupported_message_type_is_rejected() -> None:
    with pytest.raises(TypeError, match="FunctionMessage"):
        message_to_dict(FunctionMessage(content="3", name="add"))


def test_whole_history_is_sent_in_order(fake_router: FakeRouter) -> None:
    fake_router.queue(json_response(completion("It is sunny.")))
    model = fake_router.model()

    model.invoke(
        [
            SystemMessage("be brief"),
            HumanMessage("Weather in Zürich?"),
            AIMessage(
                "", tool_calls=[CALL], additional_kwargs={"reasoning_content": "r"}
            ),
            ToolMessage("sunny", tool_call_id="call_1"),
        ]
    )

    assert [m["role"] for m in fake_router.last_body["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
    ]
    assistant = fake_router.last_body["messages"][2]
    assert assistant["content"] is None
    assert assistant["reasoning_content"] == "r"
