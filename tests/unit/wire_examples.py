"""Upstream wire examples, as bytes: real captures of OpenAI, OpenRouter and DeepSeek traffic, from the providers'
documentation and SDK test snapshots and from captures published in public issue trackers.

Each example says where it comes from ("Notes §N" is the section of the provider wire notes the project keeps
beside its specifications). Where the notes abbreviate a capture (`{...,` or `...`), the elided
frames are written out in full with the fields of the capture's first frame, and the example says so.
Constants ending in `_STREAM` are whole SSE bodies; the others are JSON bodies.
"""

from __future__ import annotations

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
