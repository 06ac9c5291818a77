"""OpenAI's shape for complete (non-streamed) answers, whatever the upstream sent."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from .support import OPENROUTER_CHAT, USER_HI, completion_of, json_response
from .wire_examples import OPENROUTER_TOOL_COMPLETION

if TYPE_CHECKING:
    import respx
    from litestar import Litestar
    from litestar.testing import AsyncTestClient

    Client = AsyncTestClient[Litestar]

MODEL = "openrouter/some/model"


def completion(message: dict[str, Any], finish_reason: str | None = "stop", **top: Any) -> bytes:
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish_reason}
    body: dict[str, Any] = {
        "id": "chatcmpl-upstream",
        "object": "chat.completion",
        "created": 1699896916,
        "model": "upstream-model",
        "choices": [choice],
    }
    body.update(top)
    return json.dumps(body).encode()


def tool_call(id_: str, name: str = "get_weather", arguments: str = '{"city":"Oslo"}') -> dict[str, Any]:
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}


async def answer(client: Client, upstream: respx.MockRouter, body: bytes) -> dict[str, Any]:
    upstream.post(OPENROUTER_CHAT).mock(return_value=json_response(body))
    response = await client.post("/v1/chat/completions", json={"model": MODEL, "messages": USER_HI})
    return completion_of(response)


async def test_openrouter_tool_completion(client: Client, upstream: respx.MockRouter) -> None:
    body = await answer(client, upstream, OPENROUTER_TOOL_COMPLETION)

    assert body == {
        "id": "gen-1772969080-Qm2pZt8rWbYx",
        "object": "chat.completion",
        "created": 1772969080,
        "model": "anthropic/claude-4.5-haiku-20251001",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": None,
                    "tool_calls": [tool_call("toolu_bdrk_01QmX7Sx5jLz3bUjKzpr1dT4", arguments='{"city":"Paris"}')],
                    "reasoning_content": "I should look the weather up.",
                    # Passed on as OpenRouter sent them: Claude through OpenRouter needs them back after tools.
                    "reasoning_details": [
                        {
                            "type": "reasoning.text",
                            "text": "I should look the weather up.",
                            "format": "anthropic-claude-v1",
                            "index": 0,
                        }
                    ],
                },
                "finish_reason": "tool_calls",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 310,
            "completion_tokens": 41,
            "total_tokens": 351,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 12},
        },
    }


@pytest.mark.parametrize("content", ["", None, "absent"])
async def test_content_and_refusal_null_next_to_tool_calls(
    client: Client, upstream: respx.MockRouter, content: str | None
) -> None:
    message: dict[str, Any] = {"tool_calls": [tool_call("call_1")]}
    if content != "absent":
        message["content"] = content

    body = await answer(client, upstream, completion(message, "tool_calls"))

    message_out = body["choices"][0]["message"]
    assert "content" in message_out
    assert message_out["content"] is None
    assert "refusal" in message_out
    assert message_out["refusal"] is None


async def test_logprobs_null_present_when_upstream_omits_it(client: Client, upstream: respx.MockRouter) -> None:
    body = await answer(client, upstream, completion({"content": "Hi"}))

    choice = body["choices"][0]
    assert "logprobs" in choice
    assert choice["logprobs"] is None
    assert choice["message"] == {"role": "assistant", "content": "Hi", "refusal": None}


async def test_logprobs_object_kept(client: Client, upstream: respx.MockRouter) -> None:
    logprobs = {"content": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}], "refusal": None}
    wire = json.loads(completion({"content": "Hi"}))
    wire["choices"][0]["logprobs"] = logprobs

    body = await answer(client, upstream, json.dumps(wire).encode())

    assert body["choices"][0]["logprobs"] == logprobs


@pytest.mark.parametrize(
    "call_id",
    ["call_abc123", "call_00_oNaYFdzFE2LrYatAn7252220", "toolu_bdrk_01AMXFNuQYF6fxS1hryPtu9K", "fc-1:2/3"],
)
async def test_tool_call_ids_preserved(client: Client, upstream: respx.MockRouter, call_id: str) -> None:
    body = await answer(
        client, upstream, completion({"content": None, "tool_calls": [tool_call(call_id)]}, "tool_calls")
    )

    assert [c["id"] for c in body["choices"][0]["message"]["tool_calls"]] == [call_id]


@pytest.mark.parametrize("arguments", ["", "  ", "{}"])
async def test_empty_arguments_become_an_empty_object(
    client: Client, upstream: respx.MockRouter, arguments: str
) -> None:
    body = await answer(
        client,
        upstream,
        completion({"content": None, "tool_calls": [tool_call("c", "get_time", arguments)]}, "tool_calls"),
    )

    assert body["choices"][0]["message"]["tool_calls"][0]["function"] == {"name": "get_time", "arguments": "{}"}


async def test_arguments_kept_byte_for_byte(client: Client, upstream: respx.MockRouter) -> None:
    arguments = '{\n"location": "Boston, MA",  "unit" : "\\u00b0F"\n}'
    body = await answer(
        client, upstream, completion({"content": None, "tool_calls": [tool_call("c", "w", arguments)]}, "tool_calls")
    )

    assert body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == arguments


async def test_empty_tool_call_id_gets_one(client: Client, upstream: respx.MockRouter) -> None:
    body = await answer(client, upstream, completion({"content": None, "tool_calls": [tool_call("")]}, "tool_calls"))

    assert body["choices"][0]["message"]["tool_calls"][0]["id"].startswith("call_")


async def test_empty_tool_calls_list_omitted(client: Client, upstream: respx.MockRouter) -> None:
    body = await answer(client, upstream, completion({"content": "Hi", "tool_calls": []}))

    assert "tool_calls" not in body["choices"][0]["message"]
    assert body["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("upstream_reason", "has_calls", "expected"),
    [
        ("stop", True, "tool_calls"),
        (None, True, "tool_calls"),
        (None, False, "stop"),
        ("end_turn", False, "stop"),
        ("length", False, "length"),
        ("content_filter", False, "content_filter"),
        ("tool_calls", True, "tool_calls"),
    ],
)
async def test_finish_reason_within_openais_enum(
    client: Client, upstream: respx.MockRouter, upstream_reason: str | None, has_calls: bool, expected: str
) -> None:
    message: dict[str, Any] = {"content": "x"}
    if has_calls:
        message = {"content": None, "tool_calls": [tool_call("c")]}

    body = await answer(client, upstream, completion(message, upstream_reason))

    assert body["choices"][0]["finish_reason"] == expected


async def test_system_fingerprint_null_omitted(client: Client, upstream: respx.MockRouter) -> None:
    body = await answer(client, upstream, completion({"content": "Hi"}, system_fingerprint=None))

    assert "system_fingerprint" not in body


async def test_system_fingerprint_and_service_tier_kept(client: Client, upstream: respx.MockRouter) -> None:
    body = await answer(
        client, upstream, completion({"content": "Hi"}, system_fingerprint="fp_44709d6fcb", service_tier="default")
    )

    assert body["system_fingerprint"] == "fp_44709d6fcb"
    assert body["service_tier"] == "default"


async def test_usage_null_omitted(client: Client, upstream: respx.MockRouter) -> None:
    body = await answer(client, upstream, completion({"content": "Hi"}, usage=None))

    assert "usage" not in body


async def test_openai_usage_details_kept(client: Client, upstream: respx.MockRouter) -> None:
    usage = {
        "prompt_tokens": 82,
        "completion_tokens": 17,
        "total_tokens": 99,
        "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    body = await answer(client, upstream, completion({"content": "Hi"}, usage=usage))

    assert body["usage"] == usage


async def test_annotations_kept(client: Client, upstream: respx.MockRouter) -> None:
    annotations = [
        {
            "type": "url_citation",
            "url_citation": {"url": "https://example.org", "title": "Ex", "start_index": 0, "end_index": 2},
        }
    ]
    body = await answer(client, upstream, completion({"content": "Hi", "annotations": annotations}))

    assert body["choices"][0]["message"]["annotations"] == annotations


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"reasoning": "Because."}, "Because."),
        ({"reasoning_content": "Because."}, "Because."),
        ({"reasoning": None}, None),
        ({"reasoning": ""}, None),
        ({"reasoning_content": "Mine.", "reasoning": "Theirs."}, "Mine."),
    ],
)
async def test_reasoning_exposed_as_reasoning_content(
    client: Client, upstream: respx.MockRouter, fields: dict[str, Any], expected: str | None
) -> None:
    body = await answer(client, upstream, completion({"content": "Hi", **fields}))

    message = body["choices"][0]["message"]
    assert "reasoning" not in message
    assert message.get("reasoning_content") == expected


async def test_several_choices_each_normalised(client: Client, upstream: respx.MockRouter) -> None:
    wire = json.loads(completion({"content": "A"}))
    wire["choices"].append(
        {
            "index": 1,
            "message": {"role": "assistant", "content": "", "tool_calls": [tool_call("c2", arguments="")]},
            "finish_reason": "stop",
        }
    )

    body = await answer(client, upstream, json.dumps(wire).encode())

    first, second = body["choices"]
    assert (first["index"], first["finish_reason"], first["message"]["content"]) == (0, "stop", "A")
    assert (second["index"], second["finish_reason"], second["message"]["content"]) == (1, "tool_calls", None)
    assert second["message"]["tool_calls"][0]["function"]["arguments"] == "{}"
