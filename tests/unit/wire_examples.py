"""Upstream wire examples, as bytes: real captures of OpenAI, OpenRouter, DeepSeek and Anthropic traffic, from the
providers' documentation and SDK test snapshots and from captures published in public issue trackers.

Each example says where it comes from ("Notes §N" is the section of the provider wire notes the project keeps
beside its specifications). Where the notes abbreviate a capture (`{...,` or `...`), the elided frames are
written out in full with the fields of the capture's first frame, and the example says so. Where an example is
composed from a capture (a second tool call in a capture's own form), it says so too. Constants ending in
`_STREAM` are whole SSE bodies; the others are JSON bodies.
"""

from __future__ import annotations

import json

OPENROUTER_KEY = "sk-or-test"
DEEPSEEK_KEY = "sk-ds-test"

# ------------------------------------------------------------------------------------------------- OpenAI

# Notes §1, openai-python snapshot f82268f2...: gpt-4o, two parallel calls. The argument fragments elided by
# the notes are filled in, split at arbitrary points as the capture's own are.
_OAI = (
    b'"id":"chatcmpl-ABfwAwrNePHUgBBezonVC6MX3zd63","object":"chat.completion.chunk","created":1727346178,'
    b'"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_5050236cbd"'
)


def _openai_frame(choices: bytes) -> bytes:
    return b"data: {" + _OAI + b',"choices":' + choices + b"}\n\n"


def _openai_args(index: int, fragment: bytes) -> bytes:
    return _openai_frame(
        b'[{"index":0,"delta":{"tool_calls":[{"index":%d,"function":{"arguments":"%s"}}]},'
        b'"logprobs":null,"finish_reason":null}]' % (index, fragment)
    )


OPENAI_PARALLEL_TOOLS_STREAM = b"".join(
    [
        _openai_frame(
            b'[{"index":0,"delta":{"role":"assistant","content":null},"logprobs":null,"finish_reason":null}]'
        ),
        _openai_frame(
            b'[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_JMW1whyEaYG438VE1OIflxA2",'
            b'"type":"function","function":{"name":"GetWeatherArgs","arguments":""}}]},"logprobs":null,'
            b'"finish_reason":null}]'
        ),
        _openai_args(0, b'{\\"ci'),
        _openai_args(0, b'ty\\": '),
        _openai_args(0, b'\\"Edinburgh\\", \\"coun'),
        _openai_args(0, b'try\\": \\"UK\\"}'),
        _openai_frame(
            b'[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_DNYTawLBoN8fj3KN6qU9N1Ou",'
            b'"type":"function","function":{"name":"get_stock_price","arguments":""}}]},"logprobs":null,'
            b'"finish_reason":null}]'
        ),
        _openai_args(1, b'{\\"ticker\\"'),
        _openai_args(1, b': \\"AAPL\\"}'),
        _openai_frame(b'[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]'),
        _openai_frame(
            b'[],"usage":{"prompt_tokens":149,"completion_tokens":60,"total_tokens":209,'
            b'"completion_tokens_details":{"reasoning_tokens":0}}'
        ),
        b"data: [DONE]\n\n",
    ]
)
OPENAI_PARALLEL_CALLS = [
    ("call_JMW1whyEaYG438VE1OIflxA2", "GetWeatherArgs", '{"city": "Edinburgh", "country": "UK"}'),
    ("call_DNYTawLBoN8fj3KN6qU9N1Ou", "get_stock_price", '{"ticker": "AAPL"}'),
]


def openai_invalid_key(key: str) -> bytes:
    """Notes §1, real 401 (chatanywhere/GPT_API_free#62): the upstream quotes the key it rejected."""
    return (
        b'{"error":{"message":"Incorrect API key provided: %s. You can find your API key at '
        b'https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,'
        b'"code":"invalid_api_key"}}' % key.encode()
    )


# --------------------------------------------------------------------------------------------- OpenRouter

# Notes §2, real capture (anthropic/claude-4.5-haiku via Amazon Bedrock): a tool taking no arguments, whose
# arguments only ever stream as "", role repeated on every delta, then the usage chunk. The finish and usage
# frames abbreviated by the notes carry the first frame's id, model and provider.
_OR_TOOL = (
    b'"id":"gen-1772969079-EhEx5DeV7JqM43lpl47Y","object":"chat.completion.chunk","created":1772969079,'
    b'"model":"anthropic/claude-4.5-haiku-20251001","provider":"Amazon Bedrock"'
)
OPENROUTER_NOARGS_TOOL_STREAM = (
    b": OPENROUTER PROCESSING\n\n"
    b"data: {" + _OR_TOOL + b',"choices":[{"index":0,"delta":{"content":null,"role":"assistant",'
    b'"tool_calls":[{"index":0,"id":"toolu_bdrk_01AMXFNuQYF6fxS1hryPtu9K","type":"function",'
    b'"function":{"name":"get_all_tabs","arguments":""}}]},"finish_reason":null,"native_finish_reason":null}]}'
    b"\n\n"
    b"data: {" + _OR_TOOL + b',"choices":[{"index":0,"delta":{"content":"","role":"assistant"},'
    b'"finish_reason":"tool_calls","native_finish_reason":"tool_calls"}]}\n\n'
    b"data: {" + _OR_TOOL + b',"choices":[],"usage":{"prompt_tokens":25105,"completion_tokens":55,'
    b'"total_tokens":25160}}\n\n'
    b"data: [DONE]\n\n"
)
OPENROUTER_NOARGS_CALL_ID = "toolu_bdrk_01AMXFNuQYF6fxS1hryPtu9K"

# Notes §2, real capture (anthropic/claude-opus-4.6): the first frame verbatim; the reasoning, text, finish and
# usage frames follow it with OpenRouter's documented fields (reasoning, reasoning_details,
# native_finish_reason, usage with cost, is_byok and cost_details).
_OR_TEXT = (
    b'"id":"gen-1771592802-hDlyfTXagKZBer6JQTBv","provider":"Amazon Bedrock",'
    b'"model":"anthropic/claude-opus-4.6","object":"chat.completion.chunk","created":1771592802'
)
OPENROUTER_REASONING_STREAM = (
    b": OPENROUTER PROCESSING\n\n"
    b": OPENROUTER PROCESSING\n\n"
    b"data: {" + _OR_TEXT + b',"choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning":null,'
    b'"reasoning_details":[]},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}\n\n'
    b"data: {" + _OR_TEXT + b',"choices":[{"index":0,"delta":{"role":"assistant","content":"",'
    b'"reasoning":"The user greets me.","reasoning_details":[{"type":"reasoning.text",'
    b'"text":"The user greets me.","format":"anthropic-claude-v1","index":0}]},"finish_reason":null,'
    b'"native_finish_reason":null,"logprobs":null}]}\n\n'
    b"data: {" + _OR_TEXT + b',"choices":[{"index":0,"delta":{"role":"assistant","content":"Hello",'
    b'"reasoning":null,"reasoning_details":[]},"finish_reason":null,"native_finish_reason":null,'
    b'"logprobs":null}]}\n\n'
    b"data: {" + _OR_TEXT + b',"choices":[{"index":0,"delta":{"role":"assistant","content":" there!",'
    b'"reasoning":null,"reasoning_details":[]},"finish_reason":null,"native_finish_reason":null,'
    b'"logprobs":null}]}\n\n'
    b"data: {" + _OR_TEXT + b',"choices":[{"index":0,"delta":{"role":"assistant","content":"",'
    b'"reasoning":null,"reasoning_details":[]},"finish_reason":"stop","native_finish_reason":"end_turn",'
    b'"logprobs":null}]}\n\n'
    b"data: {" + _OR_TEXT + b',"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":9,'
    b'"total_tokens":21,"cost":0.000285,"is_byok":false,"prompt_tokens_details":{"cached_tokens":0,'
    b'"cache_write_tokens":0},"cost_details":{"upstream_inference_cost":null},'
    b'"completion_tokens_details":{"reasoning_tokens":5}}}\n\n'
    b"data: [DONE]\n\n"
)
OPENROUTER_REASONING_USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 9,
    "total_tokens": 21,
    "prompt_tokens_details": {"cached_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 5},
}

# Notes §2, mid-stream error (streaming.mdx): the HTTP status stays 200 and the stream ends after this event.
# Two text frames precede it so the error arrives after the answer has started.
_OR_ERR = b'"id":"gen-abc123","object":"chat.completion.chunk","created":1234567890,"model":"openai/gpt-4o"'
OPENROUTER_MIDSTREAM_ERROR_STREAM = (
    b"data: {" + _OR_ERR + b',"provider":"OpenAI","choices":[{"index":0,"delta":{"role":"assistant",'
    b'"content":"Once"},"finish_reason":null}]}\n\n'
    b"data: {" + _OR_ERR + b',"provider":"OpenAI","choices":[{"index":0,"delta":{"role":"assistant",'
    b'"content":" upon"},"finish_reason":null}]}\n\n'
    b"data: {" + _OR_ERR + b',"provider":"OpenAI","error":{"code":429,"message":"Rate limit exceeded",'
    b'"metadata":{"error_type":"rate_limit_exceeded"}},"choices":[{"index":0,"delta":{"content":""},'
    b'"finish_reason":"error"}]}\n\n'
)
# The same, with the string code streaming.mdx also shows.
OPENROUTER_MIDSTREAM_SERVER_ERROR_STREAM = OPENROUTER_MIDSTREAM_ERROR_STREAM.replace(
    b'"error":{"code":429,"message":"Rate limit exceeded","metadata":{"error_type":"rate_limit_exceeded"}}',
    b'"error":{"code":"server_error","message":"Provider disconnected"}',
)

# Notes §2: a non-streaming answer with OpenRouter's extra fields (gen- id, provider, native_finish_reason,
# reasoning, reasoning_details, usage cost) and a Bedrock tool-call id.
OPENROUTER_TOOL_COMPLETION = (
    b'{"id":"gen-1772969080-Qm2pZt8rWbYx","provider":"Amazon Bedrock","model":"anthropic/claude-4.5-haiku-20251001",'
    b'"object":"chat.completion","created":1772969080,"system_fingerprint":null,'
    b'"choices":[{"logprobs":null,"finish_reason":"tool_calls","native_finish_reason":"tool_use","index":0,'
    b'"message":{"role":"assistant","content":"","refusal":null,"reasoning":"I should look the weather up.",'
    b'"reasoning_details":[{"type":"reasoning.text","text":"I should look the weather up.",'
    b'"format":"anthropic-claude-v1","index":0}],"tool_calls":[{"id":"toolu_bdrk_01QmX7Sx5jLz3bUjKzpr1dT4",'
    b'"index":0,"type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}}]}}],'
    b'"usage":{"prompt_tokens":310,"completion_tokens":41,"total_tokens":351,"cost":0.00051,"is_byok":false,'
    b'"prompt_tokens_details":{"cached_tokens":0,"cache_write_tokens":0},'
    b'"completion_tokens_details":{"reasoning_tokens":12}}}'
)


def openrouter_text_completion(content: str = "Hello!") -> bytes:
    """A text answer in OpenRouter's shape: `gen-` id, the provider that served, `native_finish_reason`,
    `reasoning: null`, and usage with cost."""
    return json.dumps(
        {
            "id": "gen-1772969082-Ok",
            "provider": "Groq",
            "model": "meta-llama/llama-3.3-70b-instruct:free",
            "object": "chat.completion",
            "created": 1772969082,
            "choices": [
                {
                    "index": 0,
                    "logprobs": None,
                    "finish_reason": "stop",
                    "native_finish_reason": "stop",
                    "message": {"role": "assistant", "content": content, "refusal": None, "reasoning": None},
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "cost": 0, "is_byok": False},
        }
    ).encode()


# Notes §2: HTTP 200 whose choice reports a provider failure (openapi ChatResult, finish_reason "error").
OPENROUTER_200_ERROR_COMPLETION = (
    b'{"id":"gen-1772969081-Err","provider":"Together","model":"meta-llama/llama-3.3-70b-instruct",'
    b'"object":"chat.completion","created":1772969081,"choices":[{"index":0,"finish_reason":"error",'
    b'"native_finish_reason":"error","message":{"role":"assistant","content":""},'
    b'"error":{"code":502,"message":"Provider returned error","metadata":{"provider_name":"Together",'
    b'"error_type":"provider_unavailable"}}}]}'
)


def openrouter_error(code: int, message: str, metadata: bytes = b'{"error_type":"server"}') -> bytes:
    """Notes §2, the error envelope: `{code: int, message, metadata}`, no `type` and no `param`."""
    return b'{"error":{"code":%d,"message":"%s","metadata":%s}}' % (code, message.encode(), metadata)


# Notes §2, real free-tier 429 (Gitlawb/openclaude#936).
OPENROUTER_FREE_TIER_429 = (
    b'{"error":{"message":"Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model '
    b'requests per day","code":429,"metadata":{"headers":{"X-RateLimit-Limit":"50",'
    b'"X-RateLimit-Remaining":"0","X-RateLimit-Reset":"1772998400000"},"provider_name":null}}}'
)

# Notes §2 / openrouter-openapi.yaml ModelsListResponse: the models listing, two models, paginated shape.
OPENROUTER_MODELS = (
    b'{"data":['
    b'{"id":"meta-llama/llama-3.3-70b-instruct:free","canonical_slug":"meta-llama/llama-3.3-70b-instruct",'
    b'"name":"Meta: Llama 3.3 70B Instruct (free)","created":1733506137,"description":"Llama 3.3",'
    b'"context_length":131072,"architecture":{"modality":"text->text","input_modalities":["text"],'
    b'"output_modalities":["text"],"tokenizer":"Llama3","instruct_type":null},'
    b'"pricing":{"prompt":"0","completion":"0","request":"0","image":"0"},'
    b'"top_provider":{"context_length":131072,"max_completion_tokens":2048,"is_moderated":false},'
    b'"per_request_limits":null,"supported_parameters":["max_tokens","temperature","tools","tool_choice"],'
    b'"default_parameters":null,"expiration_date":null},'
    b'{"id":"openai/gpt-4","canonical_slug":"openai/gpt-4","name":"GPT-4","created":1692901234,'
    b'"description":"GPT-4","context_length":8192,"architecture":{"modality":"text->text",'
    b'"input_modalities":["text"],"output_modalities":["text"],"tokenizer":"GPT","instruct_type":"chatml"},'
    b'"pricing":{"completion":"0.00006","image":"0","prompt":"0.00003","request":"0"},'
    b'"top_provider":{"context_length":8192,"is_moderated":true,"max_completion_tokens":4096},'
    b'"supported_parameters":["temperature","top_p","max_tokens"],"default_parameters":null,'
    b'"expiration_date":null}],'
    b'"total_count":2,"links":{"next":null}}'
)

# ----------------------------------------------------------------------------------------------- DeepSeek

# Notes §3, real V4 capture: reasoning, a tool call in fragments, usage on the finish chunk. The argument
# frames elided by the notes are filled in; a `: keep-alive` comment (quick_start/rate_limit) comes first.
_DS = (
    b'"id":"23d01db0-7b76-413e-b4fd-b0bf3362f996","object":"chat.completion.chunk","created":1781233924,'
    b'"model":"deepseek-v4-flash","system_fingerprint":"fp_8b330d02d0_prod0820_fp8_kvcache_20260402"'
)


def _deepseek_frame(delta: bytes, finish: bytes = b"null", usage: bytes = b"null") -> bytes:
    return b'data: {%s,"choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}],"usage":%s}\n\n' % (
        _DS,
        delta,
        finish,
        usage,
    )


DEEPSEEK_USAGE_WIRE = (
    b'{"prompt_tokens":306,"completion_tokens":85,"total_tokens":391,"prompt_tokens_details":'
    b'{"cached_tokens":256},"completion_tokens_details":{"reasoning_tokens":31},'
    b'"prompt_cache_hit_tokens":256,"prompt_cache_miss_tokens":50}'
)
DEEPSEEK_TOOL_STREAM = b"".join(
    [
        b": keep-alive\n\n",
        b": keep-alive\n\n",
        _deepseek_frame('{"content":null,"reasoning_content":"余额"}'.encode()),
        _deepseek_frame('{"content":null,"reasoning_content":"查询"}'.encode()),
        _deepseek_frame(
            b'{"tool_calls":[{"index":0,"id":"call_00_oNaYFdzFE2LrYatAn7252220","type":"function",'
            b'"function":{"name":"get_user_balance","arguments":""}}]}'
        ),
        _deepseek_frame(b'{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}'),
        _deepseek_frame(b'{"tool_calls":[{"index":0,"function":{"arguments":"\\"user_id\\": "}}]}'),
        _deepseek_frame(b'{"tool_calls":[{"index":0,"function":{"arguments":"\\"u-42\\"}"}}]}'),
        _deepseek_frame(b'{"content":"","reasoning_content":null}', b'"tool_calls"', DEEPSEEK_USAGE_WIRE),
        b"data: [DONE]\n\n",
    ]
)
DEEPSEEK_STREAM_CALL_ID = "call_00_oNaYFdzFE2LrYatAn7252220"
DEEPSEEK_OPENAI_USAGE = {
    "prompt_tokens": 306,
    "completion_tokens": 85,
    "total_tokens": 391,
    "prompt_tokens_details": {"cached_tokens": 256},
    "completion_tokens_details": {"reasoning_tokens": 31},
}

# Notes §3: a non-streaming answer with the extra `index` in each tool call, `content: ""` next to the calls,
# `call_00_` ids, DeepSeek's cache counters (and no OpenAI `prompt_tokens_details`), reasoning_content.
DEEPSEEK_TOOL_COMPLETION = (
    b'{"id":"5f0c7b1e-2a7d-4c55-9b1e-6f3f1d9a2c11","object":"chat.completion","created":1781233990,'
    b'"model":"deepseek-v4-flash","choices":[{"index":0,"message":{"role":"assistant","content":"",'
    b'"reasoning_content":"Two cities, two calls.","tool_calls":['
    b'{"index":0,"id":"call_00_Rk3bWq9sVt1mYc7nLp2xZa8d","type":"function","function":{"name":"get_weather",'
    b'"arguments":"{\\"city\\": \\"Hangzhou\\"}"}},'
    b'{"index":1,"id":"call_01_Hf6tPz0uLe4nQx9mWb3vKc5s","type":"function","function":{"name":"get_weather",'
    b'"arguments":"{\\"city\\": \\"Beijing\\"}"}}]},"logprobs":null,"finish_reason":"tool_calls"}],'
    b'"usage":{"prompt_tokens":300,"completion_tokens":40,"total_tokens":340,"prompt_cache_hit_tokens":256,'
    b'"prompt_cache_miss_tokens":44,"completion_tokens_details":{"reasoning_tokens":8}},'
    b'"system_fingerprint":"fp_8b330d02d0_prod0820_fp8_kvcache"}'
)
DEEPSEEK_TEXT_COMPLETION = (
    b'{"id":"0b5d2b49-5d0f-4a56-8f62-3f9e3b6f0c21","object":"chat.completion","created":1781234000,'
    b'"model":"deepseek-v4-flash","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!",'
    b'"reasoning_content":"Greet back."},"logprobs":null,"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8,"prompt_tokens_details":'
    b'{"cached_tokens":0},"prompt_cache_hit_tokens":0,"prompt_cache_miss_tokens":5},'
    b'"system_fingerprint":"fp_8b330d02d0_prod0820_fp8_kvcache"}'
)
DEEPSEEK_RESOURCE_COMPLETION = DEEPSEEK_TEXT_COMPLETION.replace(
    b'"finish_reason":"stop"', b'"finish_reason":"insufficient_system_resource"'
)
DEEPSEEK_RESOURCE_STREAM = b"".join(
    [
        _deepseek_frame(b'{"role":"assistant","content":""}'),
        _deepseek_frame(b'{"content":"Par"}'),
        _deepseek_frame(b'{"content":""}', b'"insufficient_system_resource"'),
        b"data: [DONE]\n\n",
    ]
)

# Notes §3: real errors (JohnnyZ93/oai-compatible-copilot#202, Aider-AI/aider#4851).
DEEPSEEK_REASONING_NOT_PASSED_400 = (
    b'{"error":{"message":"The `reasoning_content` in the thinking mode must be passed back to the API.",'
    b'"type":"invalid_request_error","param":null,"code":"invalid_request_error"}}'
)
DEEPSEEK_INSUFFICIENT_BALANCE_402 = (
    b'{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}}'
)


# ---------------------------------------------------------------------------------------------- Anthropic

ANTHROPIC_KEY = "sk-ant-api03-test-key"


def _sse(*events: tuple[str, bytes]) -> bytes:
    """An Anthropic stream: each event named (`event:`) and its JSON (`data:`)."""
    return b"".join(b"event: %s\ndata: %s\n\n" % (name.encode(), data) for name, data in events)


# anthropic-sdk-python tests/lib/streaming/fixtures/basic_response.txt (commit 009b0353): a text answer, with a
# `ping` between the first block's start and its deltas.
ANTHROPIC_TEXT_STREAM = _sse(
    (
        "message_start",
        b'{"type":"message_start","message":{"id":"msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK","type":"message","r'
        b'ole":"assistant","content":[],"model":"claude-3-opus-latest","stop_reason":null,"stop_sequence":null'
        b',"usage":{"input_tokens":11,"output_tokens":1}}}',
    ),
    (
        "content_block_start",
        b'{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
    ),
    (
        "ping",
        b'{"type": "ping"}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}',
    ),
    (
        "content_block_stop",
        b'{"type":"content_block_stop","index":0}',
    ),
    (
        "message_delta",
        b'{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":6}}',
    ),
    (
        "message_stop",
        b'{"type":"message_stop"}',
    ),
)
ANTHROPIC_TEXT_USAGE = {"prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 17}

# anthropic-sdk-python tests/lib/streaming/fixtures/tool_use_response.txt (commit 009b0353): text, then a tool call
# whose arguments stream in fragments after an empty one; the block carries `caller`, which the router ignores.
ANTHROPIC_TOOL_STREAM = _sse(
    (
        "message_start",
        b'{"type":"message_start","message":{"id":"msg_019Q1hrJbZG26Fb9BQhrkHEr","type":"message","role":"assi'
        b'stant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,"usag'
        b'e":{"input_tokens":377,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1'
        b',"service_tier":"standard"}}}',
    ),
    (
        "content_block_start",
        b'{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
    ),
    (
        "ping",
        b'{"type": "ping"}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"I"}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\'ll check the current w'
        b'eather in Paris for you."}}',
    ),
    (
        "content_block_stop",
        b'{"type":"content_block_stop","index":0}',
    ),
    (
        "content_block_start",
        b'{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01NRLabsLyVHZ'
        b'PKxbKvkfSMn","name":"get_weather","caller":{"type":"direct"},"input":{}}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"locati"}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"on\\": \\"P"}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ar"}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"is\\"}"}}',
    ),
    (
        "content_block_stop",
        b'{"type":"content_block_stop","index":1}',
    ),
    (
        "message_delta",
        b'{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tok'
        b'ens":65}}',
    ),
    (
        "message_stop",
        b'{"type":"message_stop"}',
    ),
)
ANTHROPIC_TOOL_CALL_ID = "toolu_01NRLabsLyVHZPKxbKvkfSMn"
ANTHROPIC_TOOL_USAGE = {
    "prompt_tokens": 377,
    "completion_tokens": 65,
    "total_tokens": 442,
    "prompt_tokens_details": {"cached_tokens": 0},
}

# The capture above with a second tool_use block (index 2) in the same form, as a parallel answer streams it:
# the calls are the answer's 0 and 1, whatever block indexes they came in.
ANTHROPIC_PARALLEL_TOOLS_STREAM = _sse(
    (
        "message_start",
        b'{"type":"message_start","message":{"id":"msg_019Q1hrJbZG26Fb9BQhrkHEr","type":"message","role":"assi'
        b'stant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,"usag'
        b'e":{"input_tokens":377,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1'
        b',"service_tier":"standard"}}}',
    ),
    (
        "content_block_start",
        b'{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
    ),
    (
        "ping",
        b'{"type": "ping"}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"I"}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\'ll check the current w'
        b'eather in Paris for you."}}',
    ),
    (
        "content_block_stop",
        b'{"type":"content_block_stop","index":0}',
    ),
    (
        "content_block_start",
        b'{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01NRLabsLyVHZ'
        b'PKxbKvkfSMn","name":"get_weather","caller":{"type":"direct"},"input":{}}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"locati"}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"on\\": \\"P"}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ar"}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"is\\"}"}}',
    ),
    (
        "content_block_stop",
        b'{"type":"content_block_stop","index":1}',
    ),
    (
        "content_block_start",
        b'{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01A09q90qw90l'
        b'q917835lq9","name":"get_time","caller":{"type":"direct"},"input":{}}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\\"timezo'
        b'ne\\": \\"Eur"}}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ope/Paris\\"}"}}',
    ),
    (
        "content_block_stop",
        b'{"type":"content_block_stop","index":2}',
    ),
    (
        "message_delta",
        b'{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tok'
        b'ens":98}}',
    ),
    (
        "message_stop",
        b'{"type":"message_stop"}',
    ),
)

# docs.claude.com streaming, "streaming request with extended thinking" (its comment lines left out, its
# signature as the docs shorten it): a thinking block, its signature as the last delta, then text. The docs leave
# out usage and the block's opening `signature: ""`, which Anthropic sends (and its SDK's types require): both
# are filled in.
ANTHROPIC_THINKING_STREAM = _sse(
    (
        "message_start",
        b'{"type": "message_start", "message": {"id": "msg_01...", "type": "message", "role": "assistant", "co'
        b'ntent": [], "model": "claude-sonnet-4-5-20250929", "stop_reason": null, "stop_sequence": null, '
        b'"usage": {"input_tokens": 48, "output_tokens": 1}}}',
    ),
    (
        "content_block_start",
        b'{"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", '
        b'"signature": ""}}',
    ),
    (
        "content_block_delta",
        b'{"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "I need '
        b'to find the GCD of 1071 and 462 using the Euclidean algorithm.\\n\\n1071 = 2 \xc3\x97 462 + 147"}}',
    ),
    (
        "content_block_delta",
        b'{"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "\\n462 ='
        b' 3 \xc3\x97 147 + 21\\n147 = 7 \xc3\x97 21 + 0\\n\\nSo GCD(1071, 462) = 21"}}',
    ),
    (
        "content_block_delta",
        b'{"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQBC'
        b'gIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds..."}}',
    ),
    (
        "content_block_stop",
        b'{"type": "content_block_stop", "index": 0}',
    ),
    (
        "content_block_start",
        b'{"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}',
    ),
    (
        "content_block_delta",
        b'{"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "The greatest co'
        b'mmon divisor of 1071 and 462 is **21**."}}',
    ),
    (
        "content_block_stop",
        b'{"type": "content_block_stop", "index": 1}',
    ),
    (
        "message_delta",
        b'{"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, '
        b'"usage": {"output_tokens": 191}}',
    ),
    (
        "message_stop",
        b'{"type": "message_stop"}',
    ),
)
ANTHROPIC_THINKING_SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds..."

# The tool capture's opening, then the `error` event docs.claude.com's streaming page shows (an overloaded API
# after the stream began).
ANTHROPIC_OVERLOADED_MID_STREAM = _sse(
    (
        "message_start",
        b'{"type":"message_start","message":{"id":"msg_019Q1hrJbZG26Fb9BQhrkHEr","type":"message","role":"assi'
        b'stant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,"usag'
        b'e":{"input_tokens":377,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1'
        b',"service_tier":"standard"}}}',
    ),
    (
        "content_block_start",
        b'{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
    ),
    (
        "ping",
        b'{"type": "ping"}',
    ),
    (
        "content_block_delta",
        b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"I"}}',
    ),
    (
        "error",
        b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}',
    ),
)

# anthropic-sdk-python tests/lib/_parse/__inline_snapshot__/test_messages/TestSyncParse/bd7029d5-....json (commit
# 009b0353): a real answer to a structured-output request (`output_config.format`), usage with cache counters.
ANTHROPIC_STRUCTURED_MESSAGE = (
    b'{"model":"claude-sonnet-4-5-20250929","id":"msg_01T4jd6NyD9xGGtTPDC4ogy5","type":"message","role":"a'
    b'ssistant","content":[{"type":"text","text":"{\\"items\\":[{\\"product_name\\":\\"Green Tea\\",\\"price\\":5.'
    b'50,\\"quantity\\":2},{\\"product_name\\":\\"Coffee\\",\\"price\\":3.00,\\"quantity\\":1}],\\"total\\":14.0}"}],"'
    b'stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":406,"cache_creation_input_token'
    b's":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input'
    b'_tokens":0},"output_tokens":50,"service_tier":"standard","inference_geo":"not_available"}}'
)

# docs.claude.com extended thinking, "tool use with thinking": thinking (its signature as the docs shorten it), text, a
# tool call. The docs show only `content`; id, model, stop reason and usage (with cache reads and writes) are
# filled in with Anthropic's fields.
ANTHROPIC_THINKING_TOOL_MESSAGE = (
    b'{"id":"msg_01Aq9w938a90dw8q","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929'
    b'","content":[{"type":"thinking","thinking":"The user wants to know the current weather in Paris. I h'
    b'ave access to a function `get_weather`...","signature":"BDaL4VrbR2Oj0hO4XpJxT28J5TILnCrrUXoKiiNBZW9P'
    b'+nr8XSj1zuZzAl4egiCCpQNvfyUuFFJP5CncdYZEQPPmLxYsNrcs...."},{"type":"text","text":"I can help you get'
    b' the current weather information for Paris. Let me check that for you"},{"type":"tool_use","id":"too'
    b'lu_01CswdEQBMshySk6Y9DFKrfq","name":"get_weather","input":{"location":"Paris"}}],"stop_reason":"tool'
    b'_use","stop_sequence":null,"usage":{"input_tokens":410,"cache_creation_input_tokens":1200,"cache_rea'
    b'd_input_tokens":2048,"output_tokens":182}}'
)

# Two parallel calls, as the docs' parallel tool use example answers, with the ids of the captures above.
ANTHROPIC_PARALLEL_MESSAGE = (
    b'{"id":"msg_01Aq9w938a90dw8r","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929'
    b'","content":[{"type":"tool_use","id":"toolu_01NRLabsLyVHZPKxbKvkfSMn","name":"get_weather","input":{'
    b'"location":"Paris"}},{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_time","inpu'
    b't":{"timezone":"Europe/Paris"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_token'
    b's":377,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":98}}'
)

# A tool that takes no arguments (docs.claude.com streaming example's id): `input` is `{}`.
ANTHROPIC_NOARGS_MESSAGE = (
    b'{"id":"msg_01Aq9w938a90dw8s","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929'
    b'","content":[{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_all_tabs","input":'
    b'{}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":320,"output_tokens":31}}'
)

# `GET /v1/models` (platform.claude.com API reference, with the `capabilities` of the SDK's ModelInfo): one
# model that lists what it can do, one that does not.
ANTHROPIC_MODELS = (
    b'{"data":[{"type":"model","id":"claude-sonnet-4-5-20250929","display_name":"Claude Sonnet 4.5","creat'
    b'ed_at":"2025-09-29T00:00:00Z","max_input_tokens":200000,"max_tokens":64000,"capabilities":{"structur'
    b'ed_outputs":{"supported":true},"image_input":{"supported":true}}},{"type":"model","id":"claude-3-hai'
    b'ku-20240307","display_name":"Claude Haiku 3","created_at":"2024-03-07T00:00:00Z"}],"has_more":false,'
    b'"first_id":"claude-sonnet-4-5-20250929","last_id":"claude-3-haiku-20240307"}'
)


# Real error bodies: 400 prompt too long (boldsoftware/exe.dev#62), 401 (cline/cline#12), 429
# (bhouston/mycoder#62), 529 (anthropics/claude-code#5184), and the 400 a tool turn without its thinking block
# gets (Kilo-Org/kilocode#5219).
ANTHROPIC_PROMPT_TOO_LONG_400 = (
    b'{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 200251 tokens > '
    b'200000 maximum"},"request_id":"req_011CWdepJvA2D819tdYYq4h7"}'
)
ANTHROPIC_INVALID_KEY_401 = b'{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}'
ANTHROPIC_RATE_LIMIT_429 = (
    b'{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for '
    b"your organization (d3f27ff7-9afe-4ee2-9645-76ecfc73c2b7) of 40,000 input tokens per minute. For details, "
    b"refer to: https://docs.anthropic.com/en/api/rate-limits. You can see the response headers for current "
    b"usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also "
    b"contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit "
    b'increase."}}'
)
ANTHROPIC_OVERLOADED_529 = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
ANTHROPIC_THINKING_MISSING_400 = (
    b'{"type":"error","error":{"type":"invalid_request_error","message":"messages.1.content.0.type: Expected '
    b"`thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` "
    b"message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` "
    b"blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable "
    b"`thinking`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-"
    b'thinking"},"request_id":"req_vrtx_011CXHqiZPJzdrvgn43AHAoA"}'
)


def anthropic_error(kind: str, message: str) -> bytes:
    """Anthropic's error envelope (docs.claude.com/en/api/errors): `{"type": "error", "error": {type, message}}`."""
    return b'{"type":"error","error":{"type":"%s","message":"%s"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}' % (
        kind.encode(),
        message.encode(),
    )


# ----------------------------------------------------------------------------- OpenAI, as any compatible server

# Notes §1 / openai-openapi.yaml, the "Default" example of POST /chat/completions: a text answer.
OPENAI_TEXT_COMPLETION = (
    b'{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,'
    b'"model":"gpt-5.4","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I assist you '
    b'today?","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,'
    b'"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},'
    b'"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,'
    b'"rejected_prediction_tokens":0}},"service_tier":"default"}'
)

# Notes §1, the spec's "Functions" example: one call, `content: null`.
OPENAI_TOOL_COMPLETION = (
    b'{"id":"chatcmpl-abc123","object":"chat.completion","created":1699896916,"model":"gpt-4o-mini",'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null,'
    b'"tool_calls":[{"id":"call_abc123","type":"function","function":{"name":"get_current_weather",'
    b'"arguments":"{\\n\\"location\\": \\"Boston, MA\\"\\n}"}}]},"logprobs":null,"finish_reason":"tool_calls"}],'
    b'"usage":{"prompt_tokens":82,"completion_tokens":17,"total_tokens":99,"completion_tokens_details":'
    b'{"reasoning_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}'
)

# Notes §1, the spec's streaming example: its elided frames ("....") written out as the text's words, then the
# usage chunk a stream asked for (`stream_options.include_usage`) ends with.
_OAI_TEXT = (
    b'"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini",'
    b'"system_fingerprint":"fp_44709d6fcb"'
)
OPENAI_TEXT_STREAM = b"".join(
    [
        b'data: {%s,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,'
        b'"finish_reason":null}]}\n\n' % _OAI_TEXT,
        *(
            b'data: {%s,"choices":[{"index":0,"delta":{"content":"%s"},"logprobs":null,"finish_reason":null}]}\n\n'
            % (_OAI_TEXT, word)
            for word in (b"Hello", b"!", b" How", b" can", b" I", b" help?")
        ),
        b'data: {%s,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n' % _OAI_TEXT,
        b'data: {%s,"choices":[],"usage":{"prompt_tokens":19,"completion_tokens":6,"total_tokens":25}}\n\n' % _OAI_TEXT,
        b"data: [DONE]\n\n",
    ]
)

# openai-python src/openai/_streaming.py raises any event with a top-level `error`; the message is OpenAI's own
# for a server failure. It follows the stream's first two frames.
OPENAI_MID_STREAM_ERROR_STREAM = b"\n\n".join(OPENAI_TEXT_STREAM.split(b"\n\n")[:2]) + (
    b'\n\ndata: {"error":{"message":"The server had an error while processing your request. Sorry about that!",'
    b'"type":"server_error","param":null,"code":null}}\n\n'
)
