"""Abandoned requests: a client that leaves takes its request's work with it, whenever it leaves.

A router with a long provider timeout sits in front of the scripted upstream, whose `slow` scenario takes
5 s before its first byte. Clients give up long before that. What matters is what they leave behind: no
request still counted in flight on the target (which is also the upstream request still open), and no
error in the log for an upload cut short.
"""

from __future__ import annotations

import json
import socket
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.processes import run_router

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.e2e.upstreams import Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

ADMIN_KEY = "admin-e2e-abandoned-0123456789"
SLOW = "openrouter/vendor/slow"


@pytest.fixture(scope="module")
def patient_router(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    env = {
        "OPENROUTER_API_KEY": "sk-or-v1-e2e0abandoned",
        "OPENROUTER_BASE_URL": upstream.base_url("openrouter"),
        "OPENROUTER_TIMEOUT": "60",
        "LLM_ROUTER_ADMIN_KEY": ADMIN_KEY,
    }
    yield from run_router(tmp_path_factory.mktemp("abandoned"), env)


def in_flight(router: RouterProcess, target: str) -> int:
    listing = httpx.get(
        f"{router.root_url}/admin/targets", headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10
    ).json()["data"]
    return sum(entry["in_flight"] for entry in listing if entry["target"] == target)


def wait_for(condition: Any, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream-before-first-byte"])
def test_clients_that_leave_before_the_answer_free_the_target(patient_router: RouterProcess, stream: bool) -> None:
    body = json.dumps({"model": SLOW, "messages": [{"role": "user", "content": f"leave {stream}"}], "stream": stream})
    with httpx.Client(base_url=patient_router.base_url, timeout=0.5) as client:
        for _ in range(20):
            with pytest.raises(httpx.ReadTimeout):
                client.post("/chat/completions", content=body, headers={"content-type": "application/json"})

    # The upstream would take 5 s to answer; the slots are free long before that.
    assert wait_for(lambda: in_flight(patient_router, SLOW) == 0), in_flight(patient_router, SLOW)


def test_an_upload_cut_short_is_one_quiet_log_line(patient_router: RouterProcess) -> None:
    logged = len(patient_router.logs().splitlines())
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", patient_router.port), timeout=5) as sock:
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
                b"content-length: 100000\r\n\r\n{"
            )
            time.sleep(0.05)

    assert wait_for(lambda: len(patient_router.logs().splitlines()) >= logged + 5)
    new = patient_router.logs().splitlines()[logged:]
    assert not [line for line in new if "Traceback" in line or " ERROR " in line], new
    assert len([line for line in new if "POST /v1/chat/completions 499" in line]) == 5, new
