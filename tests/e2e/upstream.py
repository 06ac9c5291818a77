"""A scripted upstream that speaks OpenRouter's and DeepSeek's dialects, quirks included, on 127.0.0.1.

Each dialect lives under its own path (`/openrouter/api/v1`, `/deepseek`), so one server plays both
providers. The upstream model name picks the scenario, as the router's mock provider does:

    tool            one tool call (the first tool offered); text once the last message is a tool result
    parallel        two tool calls in one turn
    text            a text answer
    noargs          a tool call whose arguments are only ever ""
    no-index        two tool calls whose stream deltas carry no `index`
    reused-index    two tool calls that both stream on index 0, told apart only by id (Ollama's habit)
    whole-call      a tool call that streams whole in one delta
    reasoning       reasoning text, then a tool call
    rate-limited    429 with Retry-After: 7
    server-error    500
    bad-key         401 whose message quotes the key it was sent
    bad-request     400 for a request the upstream judges invalid
    error-in-200    HTTP 200 whose answer failed (finish_reason "error"); mid-stream for streams
    mid-stream-error  streams some text, then an error event
    hang            streams one chunk, then waits until the client goes away
    slow            waits 5 s before answering
    delay           waits 0.3 s before answering
    fail-once       429 (Retry-After: 1) on the first attempt of each request, then answers like `tool`
    error-once      500 on the first attempt of each request, then answers like `tool`
    down            503, always
    switchable      503 while `Upstream.switched_down` is set, else answers like `tool`
    flaky           fails 3 attempts in 10 to each model (500 or 429), never twice in a row; else like `tool`
    no-tool-endpoints  OpenRouter's 404 "No endpoints found that support tool use"
    context-too-long   400 context_length_exceeded
    bad-args        a tool call whose arguments are not JSON
    schema-invalid  a tool call whose arguments miss a required property
    bad-args-once   `bad-args` on the first attempt of each request, then `tool`
    missing-...     404: no such model (any name that starts with `missing`)

The scenario is the last segment of the model id without its variant (`free/tool:free` plays `tool`); an
unknown one plays `tool`. "Each request" is told apart by the text of its last user message. Everything
received is recorded (`Upstream.received`, with the outcome), and the end of each stream is recorded with
whether the client went away first (`Upstream.stream_ends`).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import uvicorn

__all__ = ["DIALECTS", "Received", "Upstream"]

DIALECTS = ("openrouter", "deepseek")
PREFIX = {"openrouter": "/openrouter/api/v1", "deepseek": "/deepseek"}
KEY_IN_ERRORS = "the key you sent"

ARGS = '{"location": "Paris, France", "unit": "celsius"}'
ARGS_2 = '{"symbol": "ACME"}'


@dataclass
class Received:
    dialect: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    outcome: str = ""  # "ok", or the error status sent

    @property
    def marker(self) -> str:
        """The text of the last user message: what tests use to tell their requests apart."""
        users = [m for m in self.body.get("messages", []) if m.get("role") == "user"]
        content = users[-1].get("content") if users else ""
        return content if isinstance(content, str) else json.dumps(content)


@dataclass
class StreamEnd:
    model: str
    disconnected: bool


@dataclass
class Upstream:
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    stream_ends: list[StreamEnd] = field(default_factory=list)
    switched_down: bool = False
    _attempts: dict[tuple[str, str], int] = field(default_factory=dict)
    _per_model: dict[str, int] = field(default_factory=dict)

    def base_url(self, dialect: str) -> str:
        return f"http://{self.host}:{self.port}{PREFIX[dialect]}"

    def last(self, dialect: str | None = None) -> Received:
        matching = [r for r in self.received if dialect is None or r.dialect == dialect]
        assert matching, "the upstream received nothing"
        return matching[-1]

    # ------------------------------------------------------------------------------------------ server

    def start(self) -> None:
        config = uvicorn.Config(
            self._asgi, host=self.host, port=self.port, log_level="warning", lifespan="off", interface="asgi3"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the scripted upstream did not start"
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    async def _asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        path: str = scope["path"]
        dialect = next((d for d, prefix in PREFIX.items() if path.startswith(prefix)), None)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if dialect is None:
            return await _send(send, 404, {"error": {"message": "no such dialect"}})
        route = path[len(PREFIX[dialect]) :]
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        if route == "/models" and scope["method"] == "GET":
            self.received.append(Received(dialect, route, headers, {}))
            return await _send(send, 200, _models(dialect))
        if route != "/chat/completions":
            return await _send(send, 404, {"error": {"message": f"no route {route}"}})
        request = json.loads(body)
        received = Received(dialect, route, headers, request)
        self.received.append(received)
        key = (received.marker, request["model"])
        self._attempts[key] = attempt = self._attempts.get(key, 0) + 1
        self._per_model[request["model"]] = count = self._per_model.get(request["model"], 0) + 1
        script = Script(dialect, request, headers, attempt=attempt, down=self.switched_down, flaky=count)
        if script.model in ("slow", "delay"):
            await asyncio.sleep(5 if script.model == "slow" else 0.3)
        error = script.error()
        if error is not None:
            status, payload, extra = error
            received.outcome = str(status)
            return await _send(send, status, payload, extra)
        received.outcome = "ok"
        if request.get("stream"):
            return await self._stream(script, send, receive)
        prefix = b"\n\n\n" if dialect == "deepseek" else b""  # DeepSeek's keep-alive lines while queued
        await _send(send, 200, script.completion(), prefix=prefix)

    async def _stream(self, script: Script, send: Any, receive: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        disconnected = False
        try:
            for frame in script.frames():
                if frame == "HANG":
                    # Wait for the client to go away; a live router must not leave this hanging.
                    message = await receive()
                    disconnected = message["type"] == "http.disconnect"
                    return
                await send({"type": "http.response.body", "body": frame.encode(), "more_body": True})
                await asyncio.sleep(0)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.stream_ends.append(StreamEnd(script.model, disconnected))


async def _send(
    send: Any, status: int, payload: Any, headers: dict[str, str] | None = None, prefix: bytes = b""
) -> None:
    body = prefix + json.dumps(payload).encode()
    raw_headers = [(b"content-type", b"application/json")]
    raw_headers += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def _openrouter_model(model_id: str, *, tools: bool = True, context: int = 131072) -> dict[str, Any]:
    parameters = ["temperature", "max_tokens"] + (["tools", "tool_choice"] if tools else [])
    return {
        "id": model_id,
        "canonical_slug": model_id.split(":")[0],
        "name": model_id,
        "created": 1733506137,
        "context_length": context,
        "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
        "pricing": {"prompt": "0", "completion": "0"},
        "supported_parameters": parameters,
    }


def _models(dialect: str) -> dict[str, Any]:
    if dialect == "openrouter":
        return {
            "data": [
                _openrouter_model("meta-llama/llama-3.3-70b-instruct:free"),
                _openrouter_model("free/tool:free"),
                _openrouter_model("free/rate-limited:free"),
                _openrouter_model("free/notools:free", tools=False),
                _openrouter_model("free/tiny:free", context=16),
                _openrouter_model("paid/notools", tools=False),
            ]
        }
    return {"object": "list", "data": [{"id": "deepseek-chat", "object": "model", "owned_by": "deepseek"}]}


class Script:
    """One scripted answer, rendered in one dialect."""

    def __init__(
        self,
        dialect: str,
        request: dict[str, Any],
        headers: dict[str, str],
        *,
        attempt: int = 1,
        down: bool = False,
        flaky: int = 0,
    ) -> None:
        self.dialect = dialect
        self.request = request
        self.headers = headers
        self.model: str = request["model"].rsplit("/", 1)[-1].split(":", 1)[0]
        self.attempt = attempt
        self.down = down
        self.flaky = flaky
        self.id = f"gen-{int(time.time())}-{uuid.uuid4().hex[:20]}" if dialect == "openrouter" else str(uuid.uuid4())
        self.created = int(time.time())

    # ------------------------------------------------------------------------------------------- errors

    def error(self) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        model = self.model
        if model == "rate-limited":
            return (
                429,
                self._error(429, "Rate limit exceeded: free-models-per-minute", "rate_limit_exceeded"),
                {"retry-after": "7"},
            )
        if model == "server-error":
            return 500, self._error(500, "Internal Server Error", "server"), {}
        if model == "bad-key":
            key = self.headers.get("authorization", "").removeprefix("Bearer ")
            return (
                401,
                self._error(401, f"Incorrect API key provided: {key} ({KEY_IN_ERRORS})", "authentication"),
                {},
            )
        if model == "bad-request":
            return (
                400,
                self._error(400, "The `reasoning_content` in the thinking mode must be passed back to the API.", None),
                {},
            )
        if model == "fail-once" and self.attempt == 1:
            return 429, self._error(429, "Rate limit exceeded", "rate_limit_exceeded"), {"retry-after": "1"}
        if model == "error-once" and self.attempt == 1:
            return 500, self._error(500, "Internal Server Error", "server"), {}
        if model == "down" or (model == "switchable" and self.down):
            return 503, self._error(503, "No available provider", "provider_unavailable"), {}
        if model == "flaky" and self.flaky % 10 in (1, 4, 7):
            if self.flaky % 20 < 10:
                return 500, self._error(500, "Internal Server Error", "server"), {}
            return 429, self._error(429, "Rate limit exceeded", "rate_limit_exceeded"), {}
        if model == "no-tool-endpoints":
            message = (
                "No endpoints found that support tool use. To learn more about provider routing, visit: "
                "https://openrouter.ai/docs/guides/routing/provider-selection"
            )
            return 404, self._error(404, message, None), {}
        if model.startswith("missing"):
            return 404, self._error(404, f"{self.request['model']} is not a valid model ID", "model_not_found"), {}
        if model == "context-too-long":
            message = "This endpoint's maximum context length is 8192 tokens."
            return 400, self._error(400, message, "context_length_exceeded"), {}
        return None

    def _error(self, status: int, message: str, error_type: str | None) -> dict[str, Any]:
        if self.dialect == "openrouter":
            body: dict[str, Any] = {"code": status, "message": message}
            if error_type:
                body["metadata"] = {"error_type": error_type}
            return {"error": body}
        return {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_request_error",
            }
        }

    # ------------------------------------------------------------------------------------------ answers

    def _answer_after_tool(self) -> bool:
        return self.request["messages"][-1]["role"] == "tool"

    def calls(self) -> list[tuple[str, str, str]]:
        """(id, name, arguments) of the calls this scenario makes."""
        tools = [tool["function"]["name"] for tool in self.request.get("tools") or []]
        if not tools or self._answer_after_tool() or self.model in ("text", "mid-stream-error", "slow"):
            return []
        first, second = tools[0], tools[-1]

        def call_id(n: int) -> str:
            if self.dialect == "deepseek":
                return f"call_{n:02d}_{uuid.uuid4().hex[:24]}"
            return f"toolu_bdrk_{uuid.uuid4().hex[:24]}"

        if self.model == "noargs":
            return [(call_id(0), first, "")]
        if self.model == "bad-args" or (self.model == "bad-args-once" and self.attempt == 1):
            return [(call_id(0), first, '{"location": "Paris", ')]
        if self.model == "schema-invalid":
            return [(call_id(0), first, '{"unit": "celsius"}')]
        if self.model in ("parallel", "no-index", "reused-index"):
            return [(call_id(0), first, ARGS), (call_id(1), second, ARGS_2)]
        return [(call_id(0), first, ARGS)]

    def text(self) -> str:
        if self._answer_after_tool():
            return f"The tool said: {self.request['messages'][-1]['content']}"
        return "Hello from the scripted upstream."

    def reasoning(self) -> str | None:
        return "The user wants the weather; call the tool." if self.model == "reasoning" else None

    def usage(self) -> dict[str, Any]:
        if self.dialect == "deepseek":
            return {
                "prompt_tokens": 306,
                "completion_tokens": 85,
                "total_tokens": 391,
                "prompt_tokens_details": {"cached_tokens": 256},
                "completion_tokens_details": {"reasoning_tokens": 31},
                "prompt_cache_hit_tokens": 256,
                "prompt_cache_miss_tokens": 50,
            }
        return {
            "prompt_tokens": 25,
            "completion_tokens": 55,
            "total_tokens": 80,
            "cost": 0.00012,
            "is_byok": False,
        }

    def completion(self) -> dict[str, Any]:
        calls = self.calls()
        message: dict[str, Any] = {"role": "assistant", "content": None if calls else self.text()}
        if calls:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                for cid, name, args in calls
            ]
        finish = "tool_calls" if calls else "stop"
        choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
            "usage": self.usage(),
        }
        if self.dialect == "openrouter":
            body["provider"] = "Amazon Bedrock"
            choice["native_finish_reason"] = finish
            message["reasoning"] = self.reasoning()
            message["refusal"] = None
            if self.model == "error-in-200":
                choice["finish_reason"] = "error"
                choice["error"] = {
                    "code": 502,
                    "message": "Upstream provider returned an error",
                    "metadata": {},
                }
        else:
            body["system_fingerprint"] = "fp_8b330d02d0_prod0820_fp8_kvcache"
            if calls:
                message["content"] = ""  # DeepSeek sends "" next to tool calls
                for index, call in enumerate(message["tool_calls"]):
                    call["index"] = index  # and an extra index inside each call
            if self.reasoning():
                message["reasoning_content"] = self.reasoning()
            if self.model == "error-in-200":
                choice["finish_reason"] = "insufficient_system_resource"
        return body

    # ------------------------------------------------------------------------------------------ streams

    def frames(self) -> list[str]:
        """The SSE body, frame by frame ("HANG" where the upstream stops and waits)."""
        frames: list[str] = []
        comment = ": OPENROUTER PROCESSING\n\n" if self.dialect == "openrouter" else ": keep-alive\n\n"
        frames.append(comment)
        deltas = list(self._deltas())
        for position, (delta, finish) in enumerate(deltas):
            last = position == len(deltas) - 1
            frames.append(self._chunk(delta, finish, usage=last and self.dialect == "deepseek"))
            if position == 1 and self.dialect == "deepseek":
                frames.append(": keep-alive\n\n")
            if position == 0 and self.model == "hang":
                frames.append("HANG")
                return frames
            if position == 2 and self.model == "mid-stream-error":
                frames.append(self._stream_error())
                return frames
            if position == 1 and self.model == "error-in-200" and self.dialect == "openrouter":
                frames.append(self._stream_error())
                return frames
        if self.dialect == "openrouter":
            # OpenRouter always sends usage, in its own chunk, whatever the client asked.
            frames.append(self._data({**self._envelope(), "choices": [], "usage": self.usage()}))
        frames.append("data: [DONE]\n\n")
        return frames

    def _deltas(self) -> Any:
        role_everywhere = self.dialect == "openrouter"
        yield {"role": "assistant", "content": ""}, None
        if self.reasoning():
            key = "reasoning" if self.dialect == "openrouter" else "reasoning_content"
            for piece in ("The user wants ", "the weather."):
                yield _with_role({"content": None, key: piece}, role_everywhere), None
        calls = self.calls()
        if not calls:
            for piece in self.text().split(" "):
                yield _with_role({"content": piece + " "}, role_everywhere), None
        for n, (cid, name, args) in enumerate(calls):
            index = 0 if self.model == "reused-index" else n
            if self.model == "whole-call":
                head: dict[str, Any] = {
                    "index": index,
                    "id": cid,
                    "type": "function",
                    "function": {"name": name, "arguments": args},
                }
                yield _with_role({"tool_calls": [head]}, role_everywhere), None
                continue
            head = {
                "index": index,
                "id": cid,
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            if self.model == "no-index":
                del head["index"]
            yield _with_role({"content": None, "tool_calls": [head]}, role_everywhere), None
            for start in range(0, len(args), 9):
                part: dict[str, Any] = {"index": index, "function": {"arguments": args[start : start + 9]}}
                if self.model == "no-index":
                    del part["index"]
                if self.model == "reused-index":
                    part["id"] = cid  # repeated on every delta
                yield _with_role({"tool_calls": [part]}, role_everywhere), None
        finish = "tool_calls" if calls else "stop"
        final: dict[str, Any] = (
            {"content": "", "reasoning_content": None} if self.dialect == "deepseek" else {"content": ""}
        )
        yield _with_role(final, role_everywhere), finish

    def _envelope(self) -> dict[str, Any]:
        envelope: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }
        if self.dialect == "openrouter":
            envelope["provider"] = "Amazon Bedrock"
        else:
            envelope["system_fingerprint"] = "fp_8b330d02d0_prod0820_fp8_kvcache_20260402"
        return envelope

    def _chunk(self, delta: dict[str, Any], finish: str | None, *, usage: bool) -> str:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        if self.dialect == "openrouter":
            choice["native_finish_reason"] = finish
        chunk = {**self._envelope(), "choices": [choice]}
        if self.dialect == "deepseek":
            chunk["usage"] = self.usage() if usage else None
        return self._data(chunk)

    def _stream_error(self) -> str:
        if self.dialect == "openrouter":
            return self._data(
                {
                    **self._envelope(),
                    "error": {
                        "code": 502,
                        "message": "Provider disconnected",
                        "metadata": {"error_type": "provider_unavailable"},
                    },
                    "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
                }
            )
        return self._data(
            {
                "error": {
                    "message": "Server overloaded",
                    "type": "server_error",
                    "param": None,
                    "code": "server_error",
                }
            }
        )

    @staticmethod
    def _data(payload: dict[str, Any]) -> str:
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def _with_role(delta: dict[str, Any], role_everywhere: bool) -> dict[str, Any]:
    return {"role": "assistant", **delta} if role_everywhere else delta
