"""The JavaScript clients n8n runs, against the real router: LangChain's ChatOpenAI and the openai SDK.

n8n's OpenAI Chat Model node is `@langchain/openai`'s ChatOpenAI on the credential's base URL, calling the
Responses API or chat completions depending on its "Use Responses API" option; its model dropdown lists
`GET /models` with the `openai` SDK; its Tools Agent binds tools, streams, and loops over tool calls.
`tests/e2e/js/n8n_clients.mjs` makes those calls; the packages it needs are pinned in
`tests/e2e/js/package-lock.json` and installed there by `npm ci` when missing or out of date. Node and
npm are required: without them these tests fail (CI installs them), they are not skipped.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.e2e.upstreams import Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

JS_DIR = Path(__file__).resolve().parent / "js"
SCRIPT = JS_DIR / "n8n_clients.mjs"
STAMP = JS_DIR / "node_modules" / ".llm-router-installed"
NPM_TIMEOUT = 300
NODE_TIMEOUT = 60
MIN_NODE_MAJOR = 20


@pytest.fixture(scope="module")
def node_clients() -> Callable[[dict[str, Any]], dict[str, Any]]:
    """`run(options)`: run n8n_clients.mjs with these options and return what it printed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(
            f"These tests need Node.js {MIN_NODE_MAJOR}+ and npm on PATH (found node={node}, npm={npm}). "
            "Install them (e.g. `apt-get install nodejs npm`) and run the tests again.",
            pytrace=False,
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < MIN_NODE_MAJOR:
        pytest.fail(f"These tests need Node.js {MIN_NODE_MAJOR}+, found {version}.", pytrace=False)
    _install(npm)

    def run(options: dict[str, Any]) -> dict[str, Any]:
        done = subprocess.run(
            [node, str(SCRIPT), json.dumps(options)],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT,
        )
        if done.returncode != 0:
            pytest.fail(f"n8n_clients.mjs {options} failed:\n{done.stderr}", pytrace=False)
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    return run


def _install(npm: str) -> None:
    """`npm ci` in tests/e2e/js, unless node_modules already holds what the lockfile pins."""
    lock = (JS_DIR / "package.json").read_bytes() + (JS_DIR / "package-lock.json").read_bytes()
    digest = hashlib.sha256(lock).hexdigest()
    if STAMP.is_file() and STAMP.read_text() == digest:
        return
    started = time.monotonic()
    try:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`npm ci` in {JS_DIR} took longer than {NPM_TIMEOUT} s.", pytrace=False)
    if done.returncode != 0:
        pytest.fail(f"`npm ci` in {JS_DIR} failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    STAMP.write_text(digest)
    print(f"npm ci in {JS_DIR}: {time.monotonic() - started:.1f} s")


# ------------------------------------------------------------------------------------------------------ tests


def test_model_dropdown_lists_the_routers_models(
    router: RouterProcess, node_clients: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    result = node_clients({"scenario": "models", "baseURL": router.base_url})

    assert {
        "mock/tool",
        "deepseek/deepseek-chat",
        "openrouter/meta-llama/llama-3.3-70b-instruct:free",
    } <= set(result["ids"])


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
@pytest.mark.parametrize("use_responses_api", [True, False], ids=["responses-api", "chat-completions"])
@pytest.mark.parametrize("model", ["mock/tool", "openrouter/tool", "deepseek/tool"])
def test_tools_agent_round_trip(
    router: RouterProcess,
    upstream: Upstream,
    node_clients: Callable[[dict[str, Any]], dict[str, Any]],
    model: str,
    use_responses_api: bool,
    stream: bool,
) -> None:
    result = node_clients(
        {
            "scenario": "agent",
            "baseURL": router.base_url,
            "model": model,
            "useResponsesApi": use_responses_api,
            "stream": stream,
            "question": "What is the weather in 'Lyon'?",
        }
    )

    call_turn, answer_turn = result["turns"]
    (call,) = call_turn["toolCalls"]
    assert call["name"] == "get_weather"
    assert call["id"]
    assert call_turn["invalidToolCalls"] == []
    # The mock takes the location from the question; the scripted upstream always asks for Paris.
    location = "Lyon" if model == "mock/tool" else "Paris, France"
    assert call["args"]["location"] == location
    assert answer_turn["toolCalls"] == []
    assert f"It is sunny in {location}." in result["answer"]
    for turn in result["turns"]:
        # A Responses API answer carries its `resp_` id; a chat completion does not.
        assert (turn["responseId"] or "").startswith("resp_") is use_responses_api
        if stream:
            assert turn["streamedChunks"] > 1
    dialect = model.partition("/")[0]
    if dialect != "mock":
        sent = upstream.last(dialect).body
        # n8n turns strict tool calling off, for OpenAI-compatible servers that reject `strict: null`.
        assert sent["tools"][0]["function"]["strict"] is False
        assert [message["role"] for message in sent["messages"]] == ["user", "assistant", "tool"]
        assert sent["messages"][2]["tool_call_id"] == call["id"]
