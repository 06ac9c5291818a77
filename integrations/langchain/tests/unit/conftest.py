"""Fixtures for the unit tests: a scripted router, and no network at all."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pytest_socket import disable_socket, enable_socket

from llm_router_fakes import FakeRouter

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    # Unix sockets stay allowed: asyncio's event loop wakes itself through a
    # socketpair.
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture
def fake_router() -> FakeRouter:
    """A router stand-in that answers from a script and records requests."""
    return FakeRouter()
