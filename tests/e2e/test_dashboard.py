"""The dashboard (`/ui`) in a real headless browser: Debian's Chromium driven by Playwright, against the real
router with the mock provider, a target that cannot be reached, and a registry tool on a local tool server.

The tests run in order on one page, as an operator would: log in, see the aliases and targets, watch a
request arrive in the live tail, play a tool round trip and a streamed answer, reset a target, invoke a
registry tool through its form, read the configuration; then the same pages on a phone, in the dark, and
with the keyboard only. After each test the page must have logged no console error and asked no host but
the router. Every page is saved as a screenshot in the directory the run prints (`LLM_ROUTER_SCREENSHOTS`
chooses it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.tools.servers import ToolServer
from tests.support.browser import Watched, chromium
from tests.support.processes import free_port, run_router

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

ADMIN_KEY = "admin-e2e-dashboard-0123456789"
PROVIDER_KEY = "sk-or-e2e-dashboard-never-shown"
TOOL_CREDENTIAL = "tool-e2e-dashboard-credential-never-shown"
UNREACHABLE = "openrouter/unreachable-model"
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def tool_server() -> Iterator[ToolServer]:
    server = ToolServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory, tool_server: ToolServer) -> Iterator[RouterProcess]:
    directory = tmp_path_factory.mktemp("dashboard")
    config = directory / "llm-router.toml"
    config.write_text(
        f"""
admin_key = "{ADMIN_KEY}"

[dashboard]
update_interval = 0.2

[routing]
max_attempts = 1
failure_threshold = 1
cooldown = 600

[models.smart]
targets = ["{UNREACHABLE}", "mock/text"]

[tools]
database = "{directory / "tools.sqlite3"}"

[toolsets.weather]
kind = "http"
description = "Weather from an n8n webhook"
headers = {{ Authorization = "Bearer ${{E2E_TOOL_CREDENTIAL}}" }}
[[toolsets.weather.tools]]
name = "current"
description = "The weather now in a city."
url = "{tool_server.url("/weather")}"
[toolsets.weather.tools.parameters]
type = "object"
required = ["city"]
properties = {{ city = {{ type = "string", description = "Where" }} }}
""",
        encoding="utf-8",
    )
    env = {
        "E2E_TOOL_CREDENTIAL": TOOL_CREDENTIAL,
        # Nothing listens there: the alias's first target fails, and its circuit opens.
        "OPENROUTER_API_KEY": PROVIDER_KEY,
        "OPENROUTER_BASE_URL": f"http://127.0.0.1:{free_port()}/api/v1",
    }
    yield from run_router(directory, env, ("--config", str(config)))


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    chosen = os.environ.get("LLM_ROUTER_SCREENSHOTS")
    directory = Path(chosen) if chosen else tmp_path_factory.mktemp("dashboard-screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"dashboard screenshots: {directory}")
    return directory


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def watched(browser: Browser, router: RouterProcess) -> Iterator[Watched]:
    """The operator's page, logged in, for the whole module."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    watch = Watched(page, f"127.0.0.1:{router.port}")
    yield watch
    context.close()


@pytest.fixture(autouse=True)
def _clean_page(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that used the operator's page: no console error, no host but the router."""
    yield
    if "watched" in request.fixturenames:
        watch: Watched = request.getfixturevalue("watched")
        watch.assert_clean()


def chat(router: RouterProcess, model: str, request_id: str | None = None, **extra: Any) -> httpx.Response:
    headers = {"x-request-id": request_id} if request_id else {}
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], **extra}
    return httpx.post(f"{router.base_url}/chat/completions", json=body, headers=headers, timeout=30)


def show(page: Page, router: RouterProcess, name: str) -> None:
    """Open a page afresh (the same address again is a reload: a new page, not the old one's state)."""
    address = f"{router.root_url}/ui#/{name}"
    if page.url == address:
        page.reload()
    else:
        page.goto(address)
    expect(page.locator("#page h1")).to_be_visible()


def test_a_key_other_than_the_admin_key_is_refused(browser: Browser, router: RouterProcess) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{router.root_url}/ui")
        page.fill("#admin-key", "not-the-admin-key")
        page.click("#login-form button[type=submit]")

        expect(page.locator("#login-error")).to_contain_text("not the admin key")
        expect(page.locator("#nav")).to_be_hidden()
    finally:
        context.close()


def test_logging_in_opens_the_live_overview(watched: Watched, router: RouterProcess) -> None:
    page = watched.page
    page.goto(f"{router.root_url}/ui")
    page.fill("#admin-key", ADMIN_KEY)
    page.click("#login-form button[type=submit]")

    expect(page.locator("#nav")).to_be_visible()
    expect(page.locator("#connection")).to_have_text("live")
    expect(page.locator("#page h1")).to_have_text("Overview")
    assert page.evaluate("sessionStorage.getItem('llm-router.admin-key')") == ADMIN_KEY
    assert page.evaluate("localStorage.length") == 0


def test_the_overview_shows_the_aliases_and_their_targets(
    watched: Watched, router: RouterProcess, screenshots: Path
) -> None:
    page = watched.page
    answered = chat(router, "smart")
    assert answered.headers["x-llm-router-target"] == "mock/text"  # the unreachable target failed first

    show(page, router, "overview")
    unreachable = page.locator(f'tr[data-target="{UNREACHABLE}"]')
    expect(unreachable).to_contain_text("open")
    expect(unreachable).to_contain_text("Could not reach openrouter")
    expect(page.locator('tr[data-target="mock/text"]')).to_contain_text("closed")
    expect(page.locator("tr.group").first).to_contain_text("smart · priority")
    expect(page.locator('[data-figure="requests"] .value')).not_to_have_text("0")
    page.screenshot(path=screenshots / "overview.png", full_page=True)


def test_a_request_appears_in_the_live_tail(watched: Watched, router: RouterProcess, screenshots: Path) -> None:
    page = watched.page
    show(page, router, "requests")
    expect(page.locator("#request-rows tr").first).to_be_visible()  # the backlog

    assert chat(router, "mock/text", request_id="dashboard-tail-1").status_code == 200

    row = page.locator('tr[data-request-id="dashboard-tail-1"]')
    expect(row).to_contain_text("mock/text")
    expect(row).to_contain_text("200")
    page.screenshot(path=screenshots / "requests.png", full_page=True)
    row.click()
    detail = page.locator("#request-detail")
    expect(detail).to_be_visible()
    expect(detail).to_contain_text("dashboard-tail-1")
    expect(detail).to_contain_text("Served by")
    page.keyboard.press("Escape")
    expect(detail).to_be_hidden()

    page.fill("#request-search", "matches-no-request")
    expect(row).to_be_hidden()
    page.fill("#request-search", "tail-1")
    expect(row).to_be_visible()
    page.select_option("#request-status", "5xx")
    expect(row).to_be_hidden()
    page.select_option("#request-status", "all")


def test_a_failed_request_shows_its_error(watched: Watched, router: RouterProcess) -> None:
    page = watched.page
    show(page, router, "requests")

    assert chat(router, "nowhere/model", request_id="dashboard-failed-1").status_code == 404

    row = page.locator('tr[data-request-id="dashboard-failed-1"]')
    expect(row).to_contain_text("404")
    row.click()
    expect(page.locator("#request-detail")).to_contain_text("does not exist")
    page.keyboard.press("Escape")


def test_a_playground_tool_round_trip_against_mock_tool(
    watched: Watched, router: RouterProcess, screenshots: Path
) -> None:
    page = watched.page
    show(page, router, "playground")
    page.fill("#play-model", "mock/tool")
    page.fill("#play-prompt", 'What is the weather in "Paris"?')
    page.click("#play-send")

    call = page.locator('.tool-call[data-tool-call="get_weather"]')
    expect(call.locator(".arguments")).to_contain_text('"city": "Paris"')
    page.fill("#play-result-0", '{"temperature": 21}')
    page.click("#play-send-results")

    answers = page.locator("#play-thread .message.assistant")
    expect(answers).to_have_count(2)
    expect(answers.nth(1).locator(".note")).to_contain_text("finish_reason stop")
    expect(answers.nth(1).locator(".content")).not_to_be_empty()
    expect(page.locator("#play-thread .message.tool")).to_contain_text('get_weather → {"temperature": 21}')
    page.locator("details:has(#play-raw) > summary").click()
    raw = page.locator("#play-raw")
    expect(raw).to_contain_text('"tool_calls"')
    expect(raw).to_contain_text("data: [DONE]")
    page.screenshot(path=screenshots / "playground.png", full_page=True)


def test_a_streamed_answer_arrives_chunk_by_chunk(watched: Watched, router: RouterProcess) -> None:
    page = watched.page
    show(page, router, "playground")
    page.fill("#play-model", "smart")
    page.uncheck("#play-use-tools")
    page.fill("#play-prompt", "Tell me something")
    page.keyboard.press("Control+Enter")

    answer = page.locator("#play-thread .message.assistant").last
    expect(answer.locator(".note")).to_contain_text("finish_reason stop")
    expect(answer.locator(".content")).not_to_be_empty()
    chunks = page.locator("#play-raw").text_content() or ""
    assert chunks.count("data: {") >= 3, chunks
    assert '"usage"' in chunks  # stream_options.include_usage: the final usage chunk


def test_resetting_a_target_closes_its_circuit(watched: Watched, router: RouterProcess, screenshots: Path) -> None:
    page = watched.page
    show(page, router, "targets")
    row = page.locator(f'section[data-alias="smart"] tr[data-target="{UNREACHABLE}"]')
    expect(row).to_contain_text("open")
    expect(row).to_contain_text("Could not reach openrouter")
    page.screenshot(path=screenshots / "targets.png", full_page=True)

    row.get_by_role("button", name=f"Reset {UNREACHABLE}").click()

    expect(page.get_by_role("status").filter(has_text="Reset")).to_have_text(f"Reset {UNREACHABLE}.")
    expect(row).to_contain_text("closed")
    expect(row).to_contain_text("no requests yet")
    health = httpx.get(
        f"{router.root_url}/admin/targets", headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10
    ).json()
    assert UNREACHABLE not in {entry["target"] for entry in health["data"]}


def test_invoking_a_registry_tool_through_its_form(
    watched: Watched, router: RouterProcess, tool_server: ToolServer, screenshots: Path
) -> None:
    page = watched.page
    show(page, router, "tools")
    tool = page.locator('details[data-tool="weather_current"]')
    tool.locator("summary").first.click()
    expect(tool.get_by_label("city")).to_be_visible()
    expect(tool).to_contain_text("Where")  # the property's description, as the field's hint

    tool.get_by_label("city").fill("Oslo")
    tool.get_by_role("button", name="Invoke").click()

    expect(tool.locator(".tool-result")).to_contain_text('"temperature": 21')
    expect(tool.locator(".tool-result")).to_contain_text("Oslo")
    assert tool_server.received[-1]["body"] == {"city": "Oslo"}
    logged = page.locator('#invocation-rows tr:has-text("weather_current")').first
    expect(logged).to_contain_text("success")
    expect(logged).to_contain_text("dashboard")
    page.screenshot(path=screenshots / "tools.png", full_page=True)


def test_the_config_page_redacts_every_secret(watched: Watched, router: RouterProcess, screenshots: Path) -> None:
    page = watched.page
    show(page, router, "config")
    shown = page.locator("#config")
    expect(shown).to_contain_text('"admin_key": "[redacted]"')

    text = shown.text_content() or ""
    assert '"api_key": "[redacted]"' in text
    assert '"Authorization": "[redacted]"' in text
    for secret in (ADMIN_KEY, PROVIDER_KEY, TOOL_CREDENTIAL):
        assert secret not in text
    page.screenshot(path=screenshots / "config.png", full_page=True)


def test_the_keyboard_reaches_every_page_and_a_request_s_detail(watched: Watched, router: RouterProcess) -> None:
    page = watched.page
    show(page, router, "overview")
    page.locator("#nav a", has_text="Overview").focus()
    for _ in range(2):
        page.keyboard.press("Tab")
    expect(page.locator("#nav a:focus")).to_have_text("Requests")
    page.keyboard.press("Enter")
    expect(page.locator("#page h1")).to_have_text("Requests")

    first = page.locator("#request-rows tr").first
    first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#request-detail")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#request-detail")).to_be_hidden()


def test_the_pages_fit_a_phone_and_the_dark(watched: Watched, router: RouterProcess, screenshots: Path) -> None:
    page = watched.page
    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="dark")
    try:
        for name in ("overview", "targets", "requests", "tools", "playground", "config"):
            show(page, router, name)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{name} is {width} px wide on a 390 px phone"
            page.screenshot(path=screenshots / f"phone-dark-{name}.png", full_page=True)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert re.fullmatch(r"rgb\((\d+), (\d+), (\d+)\)", background)
        assert sum(int(part) for part in re.findall(r"\d+", background)) < 150, background
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.emulate_media(color_scheme="light")


def test_logging_out_forgets_the_key(watched: Watched, router: RouterProcess) -> None:
    page = watched.page
    show(page, router, "overview")
    page.click("#logout")

    expect(page.locator("#login")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('llm-router.admin-key')") is None
