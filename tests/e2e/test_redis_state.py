"""The health board and rate limiter in Redis, against a real redis-server: two boards stand for two instances.

Each test gets its own key prefix, so they share one server without seeing each other's state.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

import pytest

from app.access import ClientKey, LocalRateLimiter
from app.routing import CircuitState, LocalHealthBoard, Outcome
from app.settings import RoutingSettings
from app.shared.board import RedisHealthBoard
from app.shared.limiter import RedisRateLimiter
from app.shared.link import RedisLink
from tests.support.redis import RedisServer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

pytestmark = pytest.mark.e2e

ROUTING = RoutingSettings(failure_threshold=2, cooldown=0.3, rate_limit_cooldown=0.2, timeout=5)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def links(redis_server: RedisServer) -> AsyncIterator[Callable[..., RedisLink]]:
    """`links()` makes one more instance's connection; all of a test's share one prefix."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    made: list[RedisLink] = []

    def link(on_change: Callable[[bool], None] = lambda up: None) -> RedisLink:
        made.append(RedisLink(redis_server.url, prefix=prefix, timeout=0.25, recheck_interval=0.1, on_change=on_change))
        return made[-1]

    yield link
    for each in made:
        await each.close()


async def board(link: RedisLink) -> RedisHealthBoard:
    await link.start()
    local = LocalHealthBoard(
        failure_threshold=ROUTING.failure_threshold,
        cooldown=ROUTING.cooldown,
        rate_limit_cooldown=ROUTING.rate_limit_cooldown,
    )
    return RedisHealthBoard(link, local, ROUTING)


async def status(of: RedisHealthBoard, target: str, group: str | None = None) -> tuple[CircuitState, int, float]:
    (found,) = await of.status([target], [group])
    return found.state, found.in_flight, found.available_in


async def test_a_concurrency_limit_holds_across_instances(links: Callable[..., RedisLink]) -> None:
    one, two = await board(links()), await board(links())

    assert await one.acquire("p/m", None, 2)
    assert await two.acquire("p/m", None, 2)
    assert not await one.acquire("p/m", None, 2)
    assert (await status(two, "p/m"))[1] == 2
    await one.release("p/m", None, Outcome.SUCCESS, 0.5, None)
    assert await two.acquire("p/m", None, 2)


async def test_failures_on_two_instances_open_one_circuit_with_one_probe(links: Callable[..., RedisLink]) -> None:
    one, two = await board(links()), await board(links())

    for instance in (one, two):
        assert await instance.acquire("p/flaky", None, None)
        await instance.release("p/flaky", None, Outcome.FAILURE, None, None)

    state, _, available_in = await status(two, "p/flaky")
    assert state is CircuitState.OPEN
    assert 0 < available_in <= ROUTING.cooldown
    assert not await one.acquire("p/flaky", None, None)

    await asyncio.sleep(ROUTING.cooldown + 0.05)
    assert await one.acquire("p/flaky", None, None)  # the probe
    assert not await two.acquire("p/flaky", None, None)  # only one, whichever instance asks
    assert (await status(two, "p/flaky"))[0] is CircuitState.HALF_OPEN
    await one.release("p/flaky", None, Outcome.SUCCESS, 0.2, None)

    assert (await status(two, "p/flaky"))[0] is CircuitState.CLOSED
    assert await two.acquire("p/flaky", None, None)


async def test_a_rate_limited_group_is_left_alone_everywhere(links: Callable[..., RedisLink]) -> None:
    one, two = await board(links()), await board(links())

    assert await one.acquire("or/a:free", "or:free", None)
    await one.release("or/a:free", "or:free", Outcome.RATE_LIMITED, None, 0.4)

    assert not await two.acquire("or/b:free", "or:free", None)
    assert (await status(two, "or/b:free", "or:free"))[2] > 0.2
    await asyncio.sleep(0.45)
    assert await two.acquire("or/b:free", "or:free", None)


async def test_snapshot_and_reset(links: Callable[..., RedisLink]) -> None:
    one = await board(links())
    for target in ("p/a", "p/b"):
        assert await one.acquire(target, None, None)
        await one.release(target, None, Outcome.SUCCESS, 0.1, None)

    snapshot = await one.snapshot()
    await one.reset("p/a")
    after_one = [entry.target for entry in await one.snapshot()]
    await one.reset()

    assert [entry.target for entry in snapshot] == ["p/a", "p/b"]
    assert snapshot[0].latency == pytest.approx(0.1)
    assert snapshot[0].attempts == 1
    assert after_one == ["p/b"]
    assert await one.snapshot() == []


async def test_rate_limit_buckets_are_shared(links: Callable[..., RedisLink]) -> None:
    one_link, two_link = links(), links()
    await one_link.start()
    await two_link.start()
    one, two = RedisRateLimiter(one_link, LocalRateLimiter()), RedisRateLimiter(two_link, LocalRateLimiter())
    key = ClientKey("team", b"", requests_per_minute=3, tokens_per_minute=1000)

    admitted = [await one.admit(key, 100), await two.admit(key, 100), await one.admit(key, 700)]
    refused = await two.admit(key, 1)
    await one.settle(key, reserved=700, used=10)
    tokens_back = await two.admit(ClientKey("team", b"", tokens_per_minute=1000), 500)

    assert all(admission.admitted for admission in admitted)
    assert admitted[1].requests is not None
    assert admitted[1].requests.remaining == 1
    assert not refused.admitted
    assert refused.exhausted == "requests"
    assert refused.retry_after == pytest.approx(20, abs=0.5)
    assert tokens_back.admitted
    assert tokens_back.tokens is not None
    assert 280 <= tokens_back.tokens.remaining <= 300


async def test_without_redis_both_fall_back_to_local_state_and_come_back(
    links: Callable[..., RedisLink], redis_server: RedisServer
) -> None:
    changes: list[bool] = []
    link = links(changes.append)
    shared = await board(link)
    limiter = RedisRateLimiter(link, LocalRateLimiter())
    key = ClientKey("fallback", b"", requests_per_minute=100)
    assert link.up

    redis_server.stop()
    try:
        assert await shared.acquire("p/m", None, None)  # the first call notices, and falls back
        assert not link.up
        assert await shared.acquire("p/m", None, None)  # then no call touches the network
        await shared.release("p/m", None, Outcome.SUCCESS, 0.1, None)
        await shared.release("p/m", None, Outcome.SUCCESS, 0.1, None)
        assert (await limiter.admit(key, None)).admitted
        assert [entry.target for entry in await shared.snapshot()] == ["p/m"]  # the local board's view
    finally:
        redis_server.start()

    for _ in range(50):
        if link.up:
            break
        await asyncio.sleep(0.05)
    assert link.up
    assert changes == [False, True, False, True]  # made, connected, lost, back
    assert await shared.acquire("p/other", None, None)
    assert [entry.target for entry in await shared.snapshot()] == ["p/other"]  # Redis again (restarted empty)
