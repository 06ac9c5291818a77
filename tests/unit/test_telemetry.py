"""Request ids, the request log line, redaction, and the metrics the app records, in process."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import TYPE_CHECKING, Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.lifecycle import Lifecycle
from app.telemetry.logs import REDACTED, JsonFormatter, Redactor, TextFormatter, granian_log_config
from app.telemetry.metrics import Metrics
from app.telemetry.requests import RequestObserver

from .support import USER_HI

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.testing import AsyncTestClient
    from litestar.types import Message, Receive, ReceiveMessage, Scope, Send

    Client = AsyncTestClient[Litestar]

WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


def formatted(formatter: logging.Formatter, redactor: Redactor | None, message: str, *args: Any, **extra: Any) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    if redactor is not None:
        handler.addFilter(redactor)
    logger = logging.getLogger(f"test.telemetry.{id(stream)}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("upstream said sk-secret-one")
        except ValueError:
            logger.error(message, *args, exc_info=True, extra=extra)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


# ------------------------------------------------------------------------------------------------- logs


def test_the_redactor_removes_every_secret_wherever_it_appears() -> None:
    redactor = Redactor(["sk-secret-one", None, ""])
    redactor.learn("client", "sk-llmr-client")

    text = formatted(
        TextFormatter(),
        redactor,
        "key %s and %s",
        "sk-secret-one",
        "sk-llmr-client",
        fields={"model": "sk-llmr-client", "status": 200},
    )

    assert "sk-secret-one" not in text
    assert "sk-llmr-client" not in text
    assert text.count(REDACTED) == 5  # two arguments, one field, the traceback (source line and message)
    assert "status=200" in text


def test_the_longest_secret_is_replaced_whole() -> None:
    redactor = Redactor(["abc", "abcdef"])

    assert redactor.redact("x abcdef y abc") == f"x {REDACTED} y {REDACTED}"


def test_json_lines_carry_the_structured_fields() -> None:
    line = formatted(JsonFormatter(), Redactor(), "GET %s", "/v1/models", fields={"status": 200, "key": None})
    entry = json.loads(line)

    assert entry["message"] == "GET /v1/models"
    assert entry["level"] == "error"
    assert entry["status"] == 200
    assert entry["key"] is None
    assert "ValueError" in entry["exception"]
    assert entry["time"].endswith("Z")


FORGED = "x\n2030-01-01 00:00:00,000 INFO llm_router.requests: forged status=200"


def test_a_value_with_a_line_break_cannot_forge_a_text_log_line() -> None:
    text = formatted(
        TextFormatter(), Redactor(), "unknown model %s", FORGED, fields={"model": FORGED, "path": "/v1/a b"}
    )

    lines = text.rstrip("\n").split("\n")
    assert [line for line in lines if not line.startswith("  ")] == [lines[0]]  # the traceback is indented
    assert "unknown model x\\n2030-01-01" in lines[0]
    assert 'model="x\\n2030-01-01 00:00:00,000 INFO llm_router.requests: forged status=200"' in lines[0]
    assert 'path="/v1/a b"' in lines[0]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (200, "200"),
        (1.5, "1.5"),
        (True, "True"),
        ("openrouter/bench/model", "openrouter/bench/model"),
        ("", '""'),
        ("a b", '"a b"'),
        ("k=v", '"k=v"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("tab\there", '"tab\\there"'),
        ("bell\x07", "bell\\x07"),
        ("line\u2028sep", '"line\\u2028sep"'),  # a line separator is white space: quoted, and escaped
        ("naïve-ümlaut", "naïve-ümlaut"),
    ],
)
def test_a_text_field_is_written_bare_only_when_it_reads_back_the_same(value: object, written: str) -> None:
    text = formatted(TextFormatter(), None, "request", fields={"field": value, "after": 1})

    assert f" field={written} after=1\n" in text


def test_an_exception_message_cannot_forge_a_text_log_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter())
    logger = logging.getLogger("test.telemetry.exception")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"bad model {FORGED}\r\x1b[2J")
        except ValueError:
            logger.exception("request failed")
    finally:
        logger.removeHandler(handler)

    lines = stream.getvalue().rstrip("\n").split("\n")
    assert sum(not line.startswith("  ") for line in lines) == 1
    assert any(line.startswith("  2030-01-01") for line in lines)
    assert "\r" not in stream.getvalue()
    assert "\x1b" not in stream.getvalue()
    assert "\\r\\x1b[2J" in stream.getvalue()


@pytest.mark.parametrize("char", ["\n", "\r", "\x1b", "\x00", "\x7f", "\x85", "\u2028"])
def test_json_values_carry_no_control_characters(char: str) -> None:
    value = f"mock/a{char}b"
    line = formatted(JsonFormatter(), Redactor(), "model %s", value, fields={"model": value})

    assert line.count("\n") == 1
    assert line.endswith("\n")
    entry = json.loads(line)
    for text in (entry["message"], entry["model"]):
        assert char not in text
        assert "a\\" in text  # written as an escape, not dropped
    assert "\n" in entry["exception"]  # a traceback keeps its lines inside the one JSON line


def test_granian_logs_json_too_when_asked() -> None:
    assert granian_log_config("text") is None
    config = granian_log_config("json")
    assert config is not None
    assert config["formatters"]["json"]["()"].endswith("JsonFormatter")


# --------------------------------------------------------------------------------------- request log


async def test_each_request_gets_one_log_line_and_its_id_back(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="llm_router.requests"):
        mine = await client.post(
            "/v1/chat/completions",
            json={"model": "mock/tool", "messages": USER_HI, "tools": [WEATHER]},
            headers={"x-request-id": "client-id-42"},
        )
        fresh = await client.get("/v1/nowhere", headers={"x-request-id": "bad id with spaces"})
        await client.get("/health")  # probes stay out of the log

    lines = [record for record in caplog.records if record.name == "llm_router.requests"]
    assert mine.headers["x-request-id"] == "client-id-42"
    assert fresh.headers["x-request-id"] != "bad id with spaces"
    assert len(fresh.headers["x-request-id"]) == 32
    assert len(lines) == 2
    first: dict[str, Any] = lines[0].fields  # type: ignore[attr-defined]
    assert first["request_id"] == "client-id-42"
    assert first["status"] == 200
    assert first["model"] == "mock/tool"
    assert first["target"] == "mock/tool"
    assert first["attempts"] == 1
    assert first["tool_calls"] == 1
    assert first["prompt_tokens"] > 0
    assert first["completion_tokens"] > 0
    assert first["key"] is None
    assert lines[1].fields["status"] == 404  # type: ignore[attr-defined]


async def test_a_stream_is_logged_when_it_ends_with_its_usage(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="llm_router.requests"):
        response = await client.post(
            "/v1/chat/completions", json={"model": "mock/text", "messages": USER_HI, "stream": True}
        )

    assert response.status_code == 200
    (line,) = [record.fields for record in caplog.records if record.name == "llm_router.requests"]  # type: ignore[attr-defined]
    assert line["stream"] is True
    assert line["completion_tokens"] > 0


@pytest.mark.parametrize("pieces", [[b'{"ok":true}'], [b"data: 1\n\n", b"data: [DONE]\n\n", b""]])
async def test_a_request_is_logged_and_counted_before_its_last_byte_goes_out(
    pieces: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    # A client that reads the log or scrapes the metrics once it has its answer finds the request there.
    metrics = Metrics()
    at_the_end: list[tuple[int, float]] = []

    def recorded() -> tuple[int, float]:
        lines = [record for record in caplog.records if record.name == "llm_router.requests"]
        return len(lines), value(parsed(metrics), "llm_router_request_duration_seconds_count", route="/v1/anything")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index, piece in enumerate(pieces, 1):
            await send({"type": "http.response.body", "body": piece, "more_body": index < len(pieces)})
        await asyncio.sleep(0)  # the application still winding down after its answer

    async def server(message: Message) -> None:
        if message["type"] == "http.response.body" and not message["more_body"]:
            at_the_end.append(recorded())

    scope = {"type": "http", "method": "POST", "path": "/v1/anything", "path_template": "/v1/anything", "headers": []}
    with caplog.at_level(logging.INFO, logger="llm_router.requests"):
        await RequestObserver(app, metrics, Lifecycle())(scope, _no_body, server)  # type: ignore[arg-type]

    assert at_the_end == [(1, 1.0)]
    assert recorded() == (1, 1.0)  # and not a second time when the application returns


async def test_a_request_that_ends_without_its_last_byte_is_logged_and_counted_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        raise ConnectionResetError("the client left during the answer")

    async def server(message: Message) -> None:
        pass

    scope = {"type": "http", "method": "POST", "path": "/v1/anything", "path_template": "/v1/anything", "headers": []}
    with caplog.at_level(logging.INFO, logger="llm_router.requests"), pytest.raises(ConnectionResetError):
        await RequestObserver(app, metrics, Lifecycle())(scope, _no_body, server)  # type: ignore[arg-type]

    (line,) = [record for record in caplog.records if record.name == "llm_router.requests"]
    assert line.fields["status"] == 200  # type: ignore[attr-defined]
    assert value(parsed(metrics), "llm_router_request_duration_seconds_count", route="/v1/anything") == 1


async def _no_body() -> ReceiveMessage:
    return {"type": "http.request", "body": b"", "more_body": False}


# ---------------------------------------------------------------------------------------------- metrics


def samples(app: Litestar) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return parsed(app.state.services.metrics)


def parsed(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_requests_attempts_tokens_and_tool_calls_are_counted(client: Client) -> None:
    await client.post("/v1/chat/completions", json={"model": "mock/text", "messages": USER_HI})
    await client.post("/v1/chat/completions", json={"model": "mock/tool", "messages": USER_HI, "tools": [WEATHER]})
    await client.post("/v1/chat/completions", json={"model": "mock/server-error", "messages": USER_HI})
    await client.post("/v1/chat/completions", json={"model": "nope/nothing", "messages": USER_HI})

    found = samples(client.app)
    route = "/v1/chat/completions"
    assert value(found, "llm_router_requests_total", route=route, model="mock/text", status="200") == 1
    assert value(found, "llm_router_requests_total", route=route, model="mock/server-error", status="502") == 1
    # A client error's model name could be anything: it is not a label.
    assert value(found, "llm_router_requests_total", route=route, model="", status="404") == 1
    assert value(found, "llm_router_request_duration_seconds_count", route=route) == 4
    assert value(found, "llm_router_upstream_attempts_total", target="mock/text", outcome="success") == 1
    assert value(found, "llm_router_upstream_attempts_total", target="mock/server-error", outcome="failure") == 1
    assert value(found, "llm_router_tool_calls_total", model="mock/tool", key="") == 1
    assert value(found, "llm_router_tokens_total", model="mock/text", key="", direction="in") == 1  # "Hi"
    assert value(found, "llm_router_tokens_total", model="mock/text", key="", direction="out") > 0
    assert value(found, "llm_router_streams_in_flight", route=route) == 0


async def test_metrics_are_open_on_loopback_only(client: Client) -> None:
    # The test client's peer is "testclient", not a loopback address: the admin key is required, and unset.
    response = await client.get("/metrics")

    assert response.status_code == 403


@pytest.mark.parametrize("created", [1767225600.0, 1767225600.999, 1767225601.0005, 1767225601.5, 1798761599.25])
def test_a_text_line_starts_with_the_time_as_logging_writes_it(created: float) -> None:
    formatter, standard = TextFormatter(), logging.Formatter("%(asctime)s")
    earlier = logging.LogRecord("x", logging.INFO, "", 0, "first", None, None)
    formatter.format(earlier)  # the time of a record in another second, kept for reuse
    record = logging.LogRecord("x", logging.INFO, "", 0, "hello", None, None)
    record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0

    assert formatter.format(record).startswith(standard.format(record) + " INFO x: hello")
