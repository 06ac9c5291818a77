"""Upstreams that misbehave, through the real router: oversized answers, quoted keys, dead connections.

Each failure must reach the client as a clean OpenAI error that says what happened, keep the provider key
out of the response and the log (even part of it), and leave the router serving.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.e2e.sse import post_json, post_stream
from tests.e2e.upstreams import DeepSeekDialect, OpenRouterDialect
from tests.support.openapi import assert_valid
from tests.support.processes import free_port, run_router

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.e2e.upstreams import Dialect
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

QUESTION = [{"role": "user", "content": "Hello?"}]


def ask(router: RouterProcess, model: str, *, stream: bool = False) -> tuple[int, dict[str, Any], str]:
    """Status, error object and raw text of the router's answer to a request expected to fail."""
    body = {"model": model, "messages": QUESTION, "stream": stream}
    if stream:
        raw = post_stream(router.base_url, body)
        assert raw.errors, "the request did not fail"
        error = raw.errors[-1]
        return raw.status, error["error"], str(raw.errors) + "".join(raw.lines)
    response = post_json(router.base_url, body)
    assert response.status_code >= 400, "the request did not fail"
    return response.status_code, response.json()["error"], response.text


def assert_no_key(dialect: Dialect, *texts: str) -> None:
    """No 12 characters in a row of the provider's key appear in any of `texts`."""
    key = dialect.key
    for start in range(len(key) - 12):
        for text in texts:
            assert key[start : start + 12] not in text


# ------------------------------------------------------------------------------------------------ secrets


def test_a_stream_answered_with_plain_text_quoting_the_key(router: RouterProcess, dialect: Dialect) -> None:
    status, error, text = ask(router, f"{dialect.name}/plain-text-key", stream=True)

    assert status == 502
    assert error["code"] == "upstream_invalid_response"
    assert "was not forwarded" in error["message"]
    assert_no_key(dialect, text, router.logs())


def test_a_plain_text_error_cut_inside_the_key(router: RouterProcess, dialect: Dialect) -> None:
    status, error, text = ask(router, f"{dialect.name}/cut-key")

    assert status == 502
    assert_valid({"error": error}, "ErrorResponse")
    assert_no_key(dialect, text, router.logs())


# ------------------------------------------------------------------------------------------------- limits


@pytest.mark.parametrize(("stream", "setting"), [(False, "max_response_bytes"), (True, "max_event_bytes")])
def test_an_answer_over_the_default_limits_fails_the_attempt(
    router: RouterProcess, dialect: Dialect, stream: bool, setting: str
) -> None:
    status, error, _ = ask(router, f"{dialect.name}/oversized", stream=stream)

    assert status == 502
    assert error["code"] == "upstream_response_too_large"
    assert f"{dialect.env_prefix}_{setting.upper()}" in error["message"]
    assert httpx.get(f"{router.root_url}/health").status_code == 200


def test_a_stream_line_that_never_ends_fails_at_the_limit(router: RouterProcess, dialect: Dialect) -> None:
    started = time.monotonic()

    status, error, _ = ask(router, f"{dialect.name}/endless-line", stream=True)

    assert status == 502
    assert error["code"] == "upstream_response_too_large"
    assert time.monotonic() - started < 10


# --------------------------------------------------------------------------------------------- connections


@contextlib.contextmanager
def hanging_up_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that reads each request and closes the connection unanswered; yields its port.

    It closes with a FIN, not a reset: aiohttp reports that as `ServerDisconnectedError`, which the transport
    turns into httpx's `RemoteProtocolError`. (A reset is an `OSError`; the unit tests try both.)
    """
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):  # the listener was closed: the tests are over
            while True:
                connection, _ = listener.accept()
                with connection:
                    connection.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def dead_ends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RouterProcess, str, str]]:
    """A router whose OpenRouter hangs up on every request and whose DeepSeek is not listening at all."""
    with hanging_up_server() as port:
        hanging_up = f"http://127.0.0.1:{port}/api/v1"
        unreachable = f"http://127.0.0.1:{free_port()}"
        env = OpenRouterDialect().router_env(hanging_up) | DeepSeekDialect().router_env(unreachable)
        for router in run_router(tmp_path_factory.mktemp("dead-ends"), env):
            yield router, hanging_up, unreachable


def test_a_connection_closed_before_any_byte_is_a_502_saying_where_and_why(
    dead_ends: tuple[RouterProcess, str, str],
) -> None:
    router, hanging_up, _ = dead_ends

    status, error, _ = ask(router, "openrouter/some/model")

    assert status == 502
    assert error["code"] == "upstream_connection_error"
    # It was reached, and hung up: the message says so, and how.
    assert error["message"] == (
        f"The connection to openrouter at {hanging_up}/chat/completions failed "
        "(ServerDisconnectedError: Server disconnected)."
    )
    assert error["message"] in router.logs()


def test_an_unreachable_upstream_is_a_502_saying_where_and_why(dead_ends: tuple[RouterProcess, str, str]) -> None:
    router, _, unreachable = dead_ends

    status, error, _ = ask(router, "deepseek/deepseek-chat", stream=True)

    assert status == 502
    assert error["code"] == "upstream_connection_error"
    assert error["message"].startswith(f"Could not reach deepseek at {unreachable}/chat/completions (")
    assert "Connect call failed" in error["message"]
    assert error["message"] in router.logs()
