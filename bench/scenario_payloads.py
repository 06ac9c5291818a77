"""Requests, canned answers and checks of the scenarios: an agent's tool round, and a 200 KB history.

The agent scenario gives the router an agent whose one HTTP tool (``weather_forecast``) the canned
upstream serves too; the upstream's model always answers with a call of that tool, so an agent with
``max_rounds = 1`` makes two model calls and one tool call per request, then finishes with
``finish_reason`` ``length``. The history scenario sends a long conversation with tool calls, built
deterministically, so that every run sends the same bytes.
"""

from __future__ import annotations

import json
import random
from typing import Any

import payloads

__all__ = [
    "AGENT_NAME",
    "AGENT_TOOL",
    "HISTORY_BYTES",
    "TOOLSET",
    "TOOL_IN_TOOLSET",
    "agent_request",
    "forecast_parameters",
    "history_request",
    "plain_request",
    "tool_answer",
    "tool_arguments",
    "validate_agent_answer",
]

AGENT_NAME = "bench-agent"
TOOLSET = "weather"
TOOL_IN_TOOLSET = "forecast"
AGENT_TOOL = f"{TOOLSET}_{TOOL_IN_TOOLSET}"
"""The name the model calls the agent's tool by: the registry's ``<toolset>_<tool>``."""

HISTORY_BYTES = 200_000
"""The history scenario's messages, JSON-encoded, come to at least this many bytes."""

_QUESTION = "What will the weather be in Paris over the next three days?"


def forecast_parameters() -> dict[str, Any]:
    """The agent's tool takes what the canned call sends (the same schema as the plain request's get_weather)."""
    parameters: dict[str, Any] = payloads.TOOLS[0]["function"]["parameters"]
    return parameters


def tool_arguments() -> bytes:
    """What the router POSTs to the tool: the canned call's arguments."""
    return json.dumps(json.loads(payloads.TOOL_ARGUMENTS), separators=(",", ":")).encode()


def tool_answer() -> bytes:
    """The tool's canned JSON answer: a three-day forecast."""
    days = [
        {"date": "2025-01-01", "summary": "Light rain, clearing by evening", "high_c": 8, "low_c": 3, "rain_mm": 2.4},
        {"date": "2025-01-02", "summary": "Overcast", "high_c": 7, "low_c": 2, "rain_mm": 0.0},
        {"date": "2025-01-03", "summary": "Sunny spells, a cold wind", "high_c": 6, "low_c": -1, "rain_mm": 0.0},
    ]
    doc = {"city": "Paris", "country": "FR", "unit": "celsius", "issued": "2025-01-01T06:00:00Z", "days": days}
    return json.dumps(doc, separators=(",", ":")).encode()


def agent_request() -> bytes:
    """A question to the agent: no tools of the client's, so every call the model makes is the agent's."""
    body = {"model": AGENT_NAME, "messages": [{"role": "user", "content": _QUESTION}], "max_tokens": 256}
    return json.dumps(body, separators=(",", ":")).encode()


def plain_request() -> bytes:
    """The agent's first round as a client would send it itself: the same question and tool, to the alias."""
    tool = {
        "type": "function",
        "function": {
            "name": AGENT_TOOL,
            "description": "Weather forecast for a city, a few days ahead.",
            "parameters": forecast_parameters(),
        },
    }
    body = {
        "model": payloads.MODEL_ALIAS,
        "messages": [{"role": "user", "content": _QUESTION}],
        "tools": [tool],
        "max_tokens": 256,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def validate_agent_answer(status: int, headers: dict[str, str], body: bytes) -> list[str]:
    """Problems with the agent's answer: one tool round ran, two model calls were summed, and it ended on the
    round limit."""
    if status != 200:
        return [f"status {status}, expected 200"]
    problems: list[str] = []
    rounds = headers.get("x-llm-router-tool-rounds")
    if rounds != "1":
        problems.append(f"x-llm-router-tool-rounds {rounds!r}, expected '1'")
    try:
        doc = json.loads(body)
        choice = doc["choices"][0]
        message = choice["message"]
    except (ValueError, LookupError, TypeError) as exc:
        return [*problems, f"not a chat completion ({exc.__class__.__name__}: {exc})"]
    if doc.get("object") != "chat.completion":
        problems.append(f"object {doc.get('object')!r}")
    if choice.get("finish_reason") != "length":
        problems.append(f"finish_reason {choice.get('finish_reason')!r}, expected 'length' (max_rounds reached)")
    if message.get("tool_calls"):
        problems.append("the agent's own tool calls were shown to the client")
    if not isinstance(message.get("content"), str) or not message["content"]:
        problems.append(f"content {message.get('content')!r}, expected the sentence saying the limit was reached")
    usage = doc.get("usage") or {}
    expected = 2 * json.loads(payloads.canned_completion())["usage"]["total_tokens"]
    if usage.get("total_tokens") != expected:
        problems.append(f"usage.total_tokens {usage.get('total_tokens')!r}, expected {expected} (two model calls)")
    return problems


# --------------------------------------------------------------------------
# The long history: a research assistant's session, with searches and documents read.
# --------------------------------------------------------------------------

_VOCABULARY = (
    "the router sends each request to a provider and retries with backoff when an upstream answers with a "
    "transient error while the client waits for one clean answer in the exact shape it expects from the api "
    "latency budget throughput queue worker connection pool stream chunk event token usage cost quota model "
    "alias target fallback circuit breaker cooldown deadline timeout schema validation argument function tool "
    "call result summary report table figure measurement baseline regression profile memory allocation copy "
    "buffer bytes encoder decoder parser header body status code envelope message conversation history turn "
    "assistant user system instruction context window prompt completion reasoning answer question evidence "
    "source document section paragraph note draft review change release version migration deployment region "
    "Zürich Köln São Paulo Kraków Malmö café naïve résumé façade déjà vu — “quoted” «text» … ✓ 東京 서울"
)
_WORDS = _VOCABULARY.split()

_SEARCH_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "search_documents",
        "description": "Full-text search over the team's design documents and incident reports.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 20},
            },
            "required": ["query"],
            "additionalProperties": False,
        },
    },
}
_READ_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "read_document",
        "description": "The full text of one document, by id, as sections.",
        "parameters": {
            "type": "object",
            "properties": {"id": {"type": "string", "pattern": "^doc-[0-9]{4}$"}},
            "required": ["id"],
            "additionalProperties": False,
        },
    },
}


class _Writer:
    """Deterministic filler text: the same seed gives the same conversation on every run."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def sentence(self) -> str:
        text = " ".join(self.rng.choice(_WORDS) for _ in range(self.rng.randint(8, 22)))
        return text[:1].upper() + text[1:] + "."

    def paragraph(self, sentences: int) -> str:
        return " ".join(self.sentence() for _ in range(sentences))

    def title(self) -> str:
        return " ".join(self.rng.choice(_WORDS) for _ in range(self.rng.randint(3, 7))).title()


def _call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)},
    }


def _turn(writer: _Writer, n: int) -> list[dict[str, Any]]:
    """One exchange: a question, a search, a document read, and the assistant's answer."""
    rng = writer.rng
    search_id, read_id = f"call_s{n:03d}{rng.getrandbits(64):016x}", f"call_r{n:03d}{rng.getrandbits(64):016x}"
    doc_id = f"doc-{rng.randint(0, 9999):04d}"
    hits = [
        {
            "id": doc_id if i == 0 else f"doc-{rng.randint(0, 9999):04d}",
            "title": writer.title(),
            "score": round(1 - i * 0.1 - rng.random() * 0.05, 3),
            "snippet": writer.paragraph(2),
        }
        for i in range(5)
    ]
    document = {
        "id": doc_id,
        "title": hits[0]["title"],
        "updated": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "sections": [{"heading": writer.title(), "text": writer.paragraph(rng.randint(3, 6))} for _ in range(4)],
    }
    query = " ".join(rng.choice(_WORDS) for _ in range(4))
    return [
        {"role": "user", "content": writer.paragraph(rng.randint(1, 3))},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [_call(search_id, "search_documents", {"query": query, "limit": 5})],
        },
        {"role": "tool", "tool_call_id": search_id, "content": json.dumps({"hits": hits}, ensure_ascii=False)},
        {"role": "assistant", "content": "", "tool_calls": [_call(read_id, "read_document", {"id": doc_id})]},
        {"role": "tool", "tool_call_id": read_id, "content": json.dumps(document, ensure_ascii=False)},
        {
            "role": "assistant",
            "content": "\n\n".join(f"- {writer.paragraph(2)}" for _ in range(rng.randint(2, 4))),
        },
    ]


def history_messages() -> list[dict[str, Any]]:
    """A conversation of at least ``HISTORY_BYTES`` (JSON), ending with a question about the weather."""
    writer = _Writer(seed=16)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a research assistant for an engineering team. " + writer.paragraph(8)}
    ]
    last = {"role": "user", "content": "Thanks. Unrelated: what's the weather in Paris for the next three days?"}
    size = len(json.dumps([*messages, last], ensure_ascii=False).encode())
    n = 0
    while size < HISTORY_BYTES:
        turn = _turn(writer, n)
        messages += turn
        size += sum(len(json.dumps(m, ensure_ascii=False).encode()) + 1 for m in turn)
        n += 1
    return [*messages, last]


def history_request(*, stream: bool) -> bytes:
    """The history scenario's request: the long conversation, the benchmark's two tools and two more."""
    body: dict[str, Any] = {
        "model": payloads.MODEL_ALIAS,
        "messages": history_messages(),
        "tools": [*payloads.TOOLS, _SEARCH_TOOL, _READ_TOOL],
        "tool_choice": "auto",
        "temperature": 0,
        "max_tokens": 256,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
