"""A real headless browser for the dashboard's tests: Debian's Chromium, driven by Playwright.

Nothing is downloaded at test time: Playwright drives `/usr/bin/chromium` (Debian's `chromium` package,
which `./dev test` installs when missing), never a browser of its own. `Watched` records what a page does
that a test must rule out: console errors, uncaught exceptions, and requests to any host but the router.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, ConsoleMessage, Page, Request

__all__ = ["CHROMIUM", "Watched", "chromium"]

CHROMIUM = Path("/usr/bin/chromium")
# Headless, as root, on a machine whose network is closed: no sandbox (root), no GPU, and none of Chromium's
# own background connections (updates, sync, field trials), which would be requests to other hosts.
_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}; the dashboard's tests drive a real one. "
            "Install it with: apt-get install -y chromium (./dev test does it when it can)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watched:
    """What a page logged and asked for since it was opened (or since `forget`)."""

    page: Page
    allowed_host: str
    errors: list[str] = field(default_factory=list)
    hosts: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        self.page.on("request", self._request)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "assert"):
            self.errors.append(f"console {message.type}: {message.text}")

    def _request(self, request: Request) -> None:
        self.hosts.add(urlsplit(request.url).netloc or request.url.partition(":")[0])

    def assert_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.hosts <= {self.allowed_host}, self.hosts - {self.allowed_host}
