"""Choosing the shared state from the settings, and serving on local state when Redis cannot be reached."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from app.access import LocalRateLimiter
from app.routing import LocalHealthBoard
from app.settings import ConfigError, Settings
from app.shared import SharedState
from app.shared.board import RedisHealthBoard
from tests.support.processes import free_port

from .support import USER_HI

if TYPE_CHECKING:
    from collections.abc import Callable


def test_without_redis_the_state_is_local() -> None:
    shared = SharedState.from_settings(Settings(), lambda up: None)

    assert isinstance(shared.board, LocalHealthBoard)
    assert isinstance(shared.limiter, LocalRateLimiter)
    assert shared.redis is None
    assert not shared.degraded


def test_with_redis_the_board_is_shared() -> None:
    changes: list[bool] = []
    shared = SharedState.from_settings(Settings(redis_url="redis://127.0.0.1:1/0"), changes.append)

    assert isinstance(shared.board, RedisHealthBoard)
    assert shared.degraded  # until it has connected
    assert changes == [False]


def test_a_bad_redis_url_is_a_config_error_that_does_not_quote_it() -> None:
    with pytest.raises(ConfigError) as raised:
        SharedState.from_settings(Settings(redis_url="http://user:hunter2@example.org"), lambda up: None)

    assert "hunter2" not in str(raised.value)


async def test_an_unreachable_redis_degrades_readiness_but_not_service(make_client: Callable[..., Any]) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    async with make_client(redis_url=url, redis={"recheck_interval": 60}) as client:
        ready = await client.get("/ready")
        answered = await client.post("/v1/chat/completions", json={"model": "mock/text", "messages": USER_HI})

    assert ready.status_code == 200
    assert ready.json() == {"status": "degraded", "redis": "down"}
    assert answered.status_code == 200
