"""Fixtures for the integration tests: real llm-router processes.

``launch_router`` is the reusable part: call it with extra environment
variables to get a router configured differently (one process per distinct
environment, shared for the session, stopped at its end)::

    @pytest.fixture(scope="session")
    def scripted_router(launch_router: RouterLauncher) -> RunningRouter:
        return launch_router({"OPENROUTER_BASE_URL": "http://127.0.0.1:9999/v1"})
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from llm_router_process import RouterLauncher, RunningRouter

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def launch_router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterLauncher]:
    """Starts llm-router processes on demand; stops them when the session ends."""
    launcher = RouterLauncher(tmp_path_factory.mktemp("llm-router-logs"))
    try:
        yield launcher
    finally:
        launcher.close()


@pytest.fixture(scope="session")
def router(launch_router: RouterLauncher) -> RunningRouter:
    """A router with no configuration: only the offline ``mock/*`` models."""
    try:
        return launch_router()
    except RuntimeError as exc:
        failure = str(exc)
    # Outside the except block, so the report is the router's log, not a chain.
    pytest.fail(failure, pytrace=False)
