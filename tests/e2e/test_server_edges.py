"""The server's edges, on real sockets against the real process: slow clients, a full worker, a port already
taken, configuration checked once before the workers start, and log lines client input cannot forge.

`E2E_SLOW_CONNECTIONS` sets how many slow clients the first test opens: 1,100 by default (more than the 1,024
connections a worker used to accept at once), 2,000 or more by hand:

    E2E_SLOW_CONNECTIONS=2000 ./dev test tests/e2e/test_server_edges.py -k slow -s
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import time
import uuid
from typing import TYPE_CHECKING

import httpx
import openai
import pytest

from tests.support.processes import LLM_ROUTER, children, run_router

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from openai.types.chat import ChatCompletionMessageParam

    from tests.e2e.upstreams import Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

SLOW_CONNECTIONS = int(os.environ.get("E2E_SLOW_CONNECTIONS", "1100"))
HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hi"}]
# Headers that promise a body, then one byte of it.
SLOW_BODY = (
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
    b"content-length: 100000\r\n\r\n{"
)


def raw_request(port: int, request: bytes, timeout: float = 5) -> tuple[bytes, float]:
    """One request on a connection of its own, read until the server closes it; the answer and its seconds."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer, time.perf_counter() - started


def health(port: int) -> float:
    """Milliseconds `/health` takes on a new connection (the way a load balancer probes)."""
    answer, seconds = raw_request(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nconnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    return seconds * 1000


def still_waiting(connection: socket.socket) -> bool:
    """Whether the server still holds this connection open without having answered it."""
    connection.setblocking(False)
    try:
        return connection.recv(1) == b"no answer, no close"  # pragma: no cover: any byte means it answered
    except BlockingIOError:
        return True
    except OSError:
        return False


@contextlib.contextmanager
def slow_clients(port: int, count: int) -> Iterator[list[socket.socket]]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 256:
        if hard < count + 256:
            pytest.skip(f"the open-file limit ({hard}) is below {count} connections")
        resource.setrlimit(resource.RLIMIT_NOFILE, (count + 256, hard))
    connections: list[socket.socket] = []
    try:
        for _ in range(count):
            connection = socket.create_connection(("127.0.0.1", port), timeout=5)
            connection.sendall(SLOW_BODY)
            connections.append(connection)
        yield connections
    finally:
        for connection in connections:
            connection.close()


@pytest.fixture
def edge_router(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    """A router that allows one request in flight and half a second for a body."""
    env = {
        "LLM_ROUTER_MAX_REQUESTS_IN_FLIGHT": "1",
        "LLM_ROUTER_BODY_TIMEOUT": "0.5",
        "DEEPSEEK_API_KEY": "sk-e2e-edges",
        "DEEPSEEK_BASE_URL": upstream.base_url("deepseek"),
    }
    yield from run_router(tmp_path_factory.mktemp("edges"), env)


# ------------------------------------------------------------------------------------------- slow clients


def test_slow_clients_neither_stop_a_worker_nor_crowd_out_requests(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Far fewer places than slow clients: a request still waiting for its body must take none.
    env = {"LLM_ROUTER_MAX_REQUESTS_IN_FLIGHT": "16"}
    for router in run_router(tmp_path_factory.mktemp("slow"), env):
        with (
            slow_clients(router.port, SLOW_CONNECTIONS) as slow,
            openai.OpenAI(base_url=router.base_url, api_key="unused", max_retries=0, timeout=5) as client,
        ):
            probes = [health(router.port) for _ in range(20)]
            started = time.perf_counter()
            reply = client.chat.completions.create(model="mock/text", messages=HI)
            chunks = list(client.chat.completions.create(model="mock/text", messages=HI, stream=True))
            requests_ms = (time.perf_counter() - started) * 1000
            waiting = sum(still_waiting(connection) for connection in slow)

        # The first probe waits behind the slow clients' connections as the worker accepts them; the rest
        # show the worker holding them all.
        print(
            f"\n{SLOW_CONNECTIONS} slow clients: first /health {probes[0]:.1f} ms, then median "
            f"{statistics.median(probes[1:]):.1f} ms and max {max(probes[1:]):.1f} ms over {len(probes) - 1} "
            f"probes; a chat request and a stream took {requests_ms:.0f} ms; {waiting} slow clients still open"
        )
        assert waiting == SLOW_CONNECTIONS  # they were all still there while the others were served
        assert statistics.median(probes) < 100
        assert max(probes) < 1000
        assert reply.choices[0].message.content
        assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_body_that_does_not_arrive_in_time_gets_408(edge_router: RouterProcess) -> None:
    answer, seconds = raw_request(edge_router.port, SLOW_BODY)

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert json.loads(body) == {
        "error": {
            "message": "The request body did not arrive within 0.5 s (body_timeout).",
            "type": "invalid_request_error",
            "param": None,
            "code": "request_timeout",
        }
    }
    assert 0.5 <= seconds < 3  # answered at the deadline, and the connection closed after it


def test_a_full_worker_answers_503_and_still_its_probes(edge_router: RouterProcess) -> None:
    with openai.OpenAI(base_url=edge_router.base_url, api_key="unused", max_retries=0, timeout=10) as client:
        # `hang` streams one chunk, then holds the request open: the worker's one place is taken.
        hanging = client.chat.completions.create(model="deepseek/hang", messages=HI, stream=True)
        next(iter(hanging))

        with pytest.raises(openai.InternalServerError) as refused:
            client.chat.completions.create(model="mock/text", messages=HI)
        probe = health(edge_router.port)
        hanging.close()

        response = refused.value.response
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"]["code"] == "server_overloaded"
        assert "max_requests_in_flight" in response.json()["error"]["message"]
        assert probe < 100
        # The place comes back once the hanging stream has ended on the server's side too.
        deadline = time.monotonic() + 10
        while (
            status := httpx.post(
                f"{edge_router.base_url}/chat/completions", json={"model": "mock/text", "messages": HI}
            ).status_code
        ) == 503:
            assert time.monotonic() < deadline, "the place was never given back"
            time.sleep(0.05)
        assert status == 200


# ------------------------------------------------------------------------------------------- starting up


def serve(*args: str, env: dict[str, str] | None = None, timeout: float = 20) -> tuple[int, list[str]]:
    """`llm-router serve ...` expected to refuse to start: its exit status and every line it printed."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_ROUTER_", "OPENROUTER_"))}
    process = subprocess.Popen(
        [str(LLM_ROUTER), "serve", *args],
        env=environment | (env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"llm-router serve {' '.join(args)} started instead of refusing to")
    return process.returncode, output.decode().splitlines()


def test_a_second_router_on_the_same_port_refuses_to_start(router: RouterProcess) -> None:
    status, lines = serve("--port", str(router.port))

    assert status == 1
    assert lines == [
        f"llm-router: cannot listen on 127.0.0.1:{router.port}: something is already listening there "
        "(another llm-router?)"
    ]
    assert httpx.get(f"{router.root_url}/health").status_code == 200


def test_a_port_another_program_holds_is_named_in_one_line() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        status, lines = serve("--port", str(port))

    assert status == 1
    assert len(lines) == 1
    assert f"127.0.0.1:{port}" in lines[0]


def test_a_bad_variable_is_named_in_one_line() -> None:
    status, lines = serve("--port", "0", env={"OPENROUTER_TIMEOUT": "abc"})

    assert status == 2
    assert lines == [
        "llm-router: Invalid configuration: environment variable OPENROUTER_TIMEOUT: Input should be a valid "
        "number, unable to parse string as a number."
    ]


def test_a_flag_over_a_bad_file_value_starts_every_worker(tmp_path: Path) -> None:
    config = tmp_path / "llm-router.toml"
    config.write_text('port = "eighty"\n', encoding="utf-8")

    for router in run_router(tmp_path, args=("--config", str(config), "--workers", "2")):
        answers = {httpx.get(f"{router.root_url}/health").status_code for _ in range(10)}
        assert answers == {200}
        assert "Traceback" not in router.logs()


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="CPU affinity is Linux's")
def test_pinned_workers_each_keep_every_thread_on_a_cpu_of_their_own(tmp_path: Path) -> None:
    cpus = sorted(os.sched_getaffinity(0))

    for router in run_router(tmp_path, args=("--workers", "2", "--pin-workers")):
        # Both workers pinned, and serving: granian starts its threads in a worker as it starts serving.
        deadline = time.monotonic() + 20
        while (
            router.logs().count("pinned to CPU") < 2
            or len(re.findall(r"Started worker-\d+ runtime", router.logs())) < 2
        ):
            assert time.monotonic() < deadline, f"the workers did not start pinned:\n{router.logs()}"
            time.sleep(0.05)
        workers = children(router.process.pid)
        placed = {worker: _cpus_of_threads(worker) for worker in workers}
        answer = httpx.post(f"{router.base_url}/chat/completions", json={"model": "mock/text", "messages": HI})

        assert len(workers) == 2
        assert sorted(sorted(each) for each in placed.values()) == [[(cpus[0],)], [(cpus[1 % len(cpus)],)]]
        assert answer.status_code == 200


def _cpus_of_threads(pid: int) -> set[tuple[int, ...]]:
    """The CPUs each thread of process `pid` may run on (a thread that ends meanwhile is left out)."""
    placed: set[tuple[int, ...]] = set()
    for thread in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            placed.add(tuple(sorted(os.sched_getaffinity(int(thread)))))
    return placed


# ----------------------------------------------------------------------------------------------------- logs


def test_client_input_cannot_forge_a_log_line(router: RouterProcess) -> None:
    forged = "2030-01-01 00:00:00,000 INFO llm_router.requests: forged"
    request_id = uuid.uuid4().hex
    headers = {"x-request-id": request_id}
    httpx.post(
        f"{router.base_url}/chat/completions",
        json={"model": f"mock/text\n{forged}", "messages": HI},
        headers=headers,
    )
    httpx.get(f"{router.root_url}/v1/x%0A{forged.replace(' ', '%20')}", headers=headers)

    deadline = time.monotonic() + 10
    while router.logs().count(request_id) < 2:
        assert time.monotonic() < deadline, "the requests were not logged"
        time.sleep(0.05)
    lines = router.logs().splitlines()
    assert not [line for line in lines if line.startswith("2030-01-01")]
    assert any(request_id in line and "\\n2030-01-01" in line for line in lines)
