"""chat.completion bodies → AIMessage: content, tool calls, reasoning, usage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from langchain_llm_router._responses import parse_tool_calls, usage_to_metadata

from llm_router_fakes import completion, json_response, tool_call

if TYPE_CHECKING:
    from llm_router_fakes import FakeRouter


def test_text_answer(fake_router: FakeRouter) -> None:
    fake_router.queue(json_response(completion("Hello there")))

    message = fake_router.model().invoke("Hi")

    assert isinstance(message, AIMessage)
    assert message.content == "Hello there"
    assert message.id == "chatcmpl-123"
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.response_metadata["model_name"] == "test/model"
    assert message.response_metadata["model_provider"] == "llm-router"
    assert message.usage_metadata == {
        "input_tokens": 11,
        "output_tokens": 7,
        "total_tokens": 18,
    }


def test_tool_only_answer_has_empty_content_and_parsed_calls(
    fake_router: FakeRouter,
) -> None:
    fake_router.queue(
        json_response(
            completion(
                None,
                tool_calls=[tool_call("call_1", "lookup", '{"city": "Zürich"}')],
                finish_reason="tool_calls",
            )
        )
    )

    message = fake_router.model().invoke("Weather?")

    assert message.content == ""
    assert message.tool_calls == [
        {
            "name": "lookup",
            "args": {"city": "Zürich"},
            "id": "call_1",
            "type": "tool_call",
        }
    ]
    assert message.invalid_tool_calls == []
    assert message.response_metadata["finish_reason"] == "tool_calls"


def test_bad_tool_arguments_become_invalid_tool_calls(fake_router: FakeRouter) -> None:
    fake_router.queue(
        json_response(
            completion(
                None,
                tool_calls=[
                    tool_call("call_ok", "lookup", '{"city": "Oslo"}'),
                    tool_call("call_bad", "lookup", '{"city": "Os'),
                ],
            )
        )
    )

    message = fake_router.model().invoke("Weather?")

    assert [call["id"] for call in message.tool_calls] == ["call_ok"]
    [invalid] = message.invalid_tool_calls
    assert invalid["id"] == "call_bad"
    assert invalid["name"] == "lookup"
    assert invalid["args"] == '{"city": "Os'
    assert invalid["error"]
    assert "not valid JSON" in invalid["error"]


@pytest.mark.parametrize(
    ("arguments", "expected_args"),
    [
        ("", {}),
        ("{}", {}),
        ('{"a": 1}', {"a": 1}),
        # A raw control character inside a string is not strict JSON, but it
        # is unambiguous and models do produce it.
        ('{"text": "line\nbreak"}', {"text": "line\nbreak"}),
    ],
    ids=["empty", "empty-object", "object", "raw-newline-in-string"],
)
def test_tool_argument_parsing(arguments: str, expected_args: dict[str, Any]) -> None:
    calls, invalid = parse_tool_calls([tool_call("c", "f", arguments)])

    assert invalid == []
    assert calls[0]["args"] == expected_args


@pytest.mark.parametrize("arguments", ["[1, 2]", "3", '"text"', "null"])
def test_tool_arguments_that_are_not_an_object_are_invalid(arguments: str) -> None:
    calls, invalid = parse_tool_calls([tool_call("c", "f", arguments)])

    assert calls == []
    assert invalid[0]["args"] == arguments
    assert "JSON object" in (invalid[0]["error"] or "")


def test_reasoning_content_is_kept(fake_router: FakeRouter) -> None:
    fake_router.queue(
        json_response(completion("42", reasoning_content="6 times 7 is 42"))
    )

    message = fake_router.model().invoke("6*7?")

    assert message.additional_kwargs["reasoning_content"] == "6 times 7 is 42"
    assert message.content_blocks[0] == {
        "type": "reasoning",
        "reasoning": "6 times 7 is 42",
    }


def test_reasoning_content_round_trips_to_the_next_turn(
    fake_router: FakeRouter,
) -> None:
    fake_router.queue(
        json_response(completion("42", reasoning_content="6 times 7")),
        json_response(completion("You're welcome")),
    )
    model = fake_router.model()

    first = model.invoke("6*7?")
    model.invoke(["6*7?", first, "thanks"])

    assistant = fake_router.last_body["messages"][1]
    assert assistant == {
        "role": "assistant",
        "content": "42",
        "reasoning_content": "6 times 7",
    }


def test_several_choices(fake_router: FakeRouter) -> None:
    fake_router.queue(json_response(completion("A", choices=2)))

    result = fake_router.model(n=2).generate([[HumanMessage("Hi")]])

    assert fake_router.last_body["n"] == 2
    assert [g.text for g in result.generations[0]] == ["A", "A"]


def test_usage_details_cached_and_reasoning_tokens() -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 80, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 30, "audio_tokens": None},
    }

    assert usage_to_metadata(usage) == {
        "input_tokens": 100,
        "output_tokens": 50,
        "total_tokens": 150,
        "input_token_details": {"cache_read": 80, "audio": 0},
        "output_token_details": {"reasoning": 30},
    }


def test_usage_deepseek_cache_hits_and_missing_total() -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "prompt_cache_hit_tokens": 4}

    assert usage_to_metadata(usage) == {
        "input_tokens": 10,
        "output_tokens": 5,
        "total_tokens": 15,
        "input_token_details": {"cache_read": 4},
    }


def test_usage_details_reach_the_message(fake_router: FakeRouter) -> None:
    usage = {
        "prompt_tokens": 9,
        "completion_tokens": 3,
        "total_tokens": 12,
        "prompt_tokens_details": {"cached_tokens": 8},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    fake_router.queue(json_response(completion("ok", usage=usage)))

    message = fake_router.model().invoke("Hi")

    assert message.usage_metadata is not None
    assert message.usage_metadata["input_token_details"] == {"cache_read": 8}
    assert message.usage_metadata["output_token_details"] == {"reasoning": 2}
