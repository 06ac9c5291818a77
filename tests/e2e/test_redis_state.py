"""The health board and rate limiter in Redis, against a real redis-server: two boards stand for two instances.

Each test gets its own key prefix, so they share one server without seeing each other's state.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING

import pytest

from app.access import ClientKey, LocalRateLimiter
from app.routing import CircuitState, LocalHealthBoard, Outcome
from app.settings import RedisSettings, RoutingSettings
from app.shared.board import RedisHealthBoard
from app.shared.limiter import RedisRateLimiter
from app.shared.link import RedisLink

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from tests.support.redis import RedisServer

pytestmark = pytest.mark.e2e

ROUTING = RoutingSettings(failure_threshold=2, cooldown=0.3, rate_limit_cooldown=0.2, timeout=5)
REDIS = RedisSettings()
# Leases that lapse within a test, renewed often enough to show a running attempt keeps its slot.
SHORT_LEASES = RedisSettings(lease_ttl=0.6, lease_renew_interval=0.1)


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


@pytest.fixture
async def renewing() -> AsyncIterator[Callable[[RedisHealthBoard], RedisHealthBoard]]:
    """`renewing(board)` starts the board renewing its leases, as a running instance does."""
    started: list[RedisHealthBoard] = []

    def start(board: RedisHealthBoard) -> RedisHealthBoard:
        board.start()
        started.append(board)
        return board

    yield start
    for each in started:
        await each.close()


async def board(link: RedisLink, redis: RedisSettings = REDIS, routing: RoutingSettings = ROUTING) -> RedisHealthBoard:
    """One instance's board. It renews no lease unless `renewing`: on its own it stands for a dead instance."""
    await link.start()
    local = LocalHealthBoard(
        failure_threshold=routing.failure_threshold,
        cooldown=routing.cooldown,
        rate_limit_cooldown=routing.rate_limit_cooldown,
        max_targets=routing.max_tracked_targets,
    )
    return RedisHealthBoard(link, local, routing, redis)


async def stored_keys(link: RedisLink) -> set[str]:
    return {key.decode() if isinstance(key, bytes) else key for key in await link.client.keys(link.key("*"))}


async def until(condition: Callable[[], Awaitable[bool]], within: float = 5.0) -> float:
    """Seconds until `condition` holds (polled), failing the test past `within` seconds."""
    started = time.monotonic()
    while not await condition():
        assert time.monotonic() - started < within, "the condition did not hold in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


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


async def test_a_running_attempt_keeps_its_slot_and_a_dead_instance_gives_its_back(
    links: Callable[..., RedisLink], renewing: Callable[[RedisHealthBoard], RedisHealthBoard]
) -> None:
    alive = renewing(await board(links(), SHORT_LEASES))
    dead = await board(links(), SHORT_LEASES)  # takes a slot, then neither renews nor releases it
    assert await alive.acquire("p/m", None, 2)
    assert await dead.acquire("p/m", None, 2)
    assert not await alive.acquire("p/m", None, 2)

    async def one_in_flight() -> bool:
        return (await status(alive, "p/m"))[1] == 1

    lapsed_in = await until(one_in_flight)
    await asyncio.sleep(3 * SHORT_LEASES.lease_ttl)  # the running attempt outlives its lease time several times

    assert lapsed_in < 3 * SHORT_LEASES.lease_ttl
    assert (await status(alive, "p/m"))[1] == 1
    assert not await alive.acquire("p/m", None, 1)
    await alive.release("p/m", None, Outcome.SUCCESS, 0.1, None)
    assert (await status(alive, "p/m"))[1] == 0


async def test_slots_whose_release_was_lost_in_an_outage_come_back_with_redis(
    links: Callable[..., RedisLink],
    renewing: Callable[[RedisHealthBoard], RedisHealthBoard],
    redis_server: RedisServer,
) -> None:
    # Leases longer than the test: only releases sent again can free the slots this fast.
    redis = RedisSettings(lease_ttl=60, lease_renew_interval=0.1)
    changes: list[bool] = []
    shared = renewing(await board(links(changes.append), redis))
    observer = await board(links(), redis)
    for _ in range(3):
        assert await shared.acquire("p/m", None, 3)

    redis_server.pause()  # a hung server, or a partition: it keeps its data
    try:
        for _ in range(3):
            await shared.release("p/m", None, Outcome.SUCCESS, 0.1, None)  # the first times out; then none tries
        assert not shared.link.up
    finally:
        redis_server.resume()

    async def none_in_flight() -> bool:
        return (await status(observer, "p/m"))[1] == 0

    assert await until(none_in_flight) < 2
    assert changes == [False, True, False, True]


async def test_recovery_from_a_restart_is_one_switch(
    links: Callable[..., RedisLink], redis_server: RedisServer
) -> None:
    changes: list[bool] = []
    link = links(changes.append)
    shared = await board(link)
    targets = [f"p/{n}" for n in range(8)]
    # Concurrent calls leave several connections in the pool, each dead once Redis restarts.
    assert all(await asyncio.gather(*(shared.acquire(target, None, None) for target in targets)))

    redis_server.stop()
    try:
        for target in targets:  # the first notices; the rest go to the local board without a try
            await shared.release(target, None, Outcome.SUCCESS, 0.1, None)
    finally:
        redis_server.start()

    async def up() -> bool:
        return link.up

    await until(up)
    for _ in range(3):
        await asyncio.gather(*(shared.acquire(target, None, None) for target in targets))
    assert changes == [False, True, False, True]  # made, connected, lost, back: and no second fall-back
    assert len(await shared.snapshot()) == len(targets)  # the restarted Redis holds them all


async def test_a_probe_whose_instance_died_lapses_with_its_lease(links: Callable[..., RedisLink]) -> None:
    one, dead = await board(links(), SHORT_LEASES), await board(links(), SHORT_LEASES)
    for _ in range(ROUTING.failure_threshold):
        assert await one.acquire("p/flaky", None, None)
        await one.release("p/flaky", None, Outcome.FAILURE, None, None)
    await asyncio.sleep(ROUTING.cooldown + 0.05)
    assert await dead.acquire("p/flaky", None, None)  # the half-open probe; its instance then dies
    assert not await one.acquire("p/flaky", None, None)

    async def probe_taken() -> bool:
        return await one.acquire("p/flaky", None, None)

    # Within its lease time, not the request deadline (ROUTING.timeout) a probe was held for before.
    assert await until(probe_taken, within=ROUTING.timeout - 1) < 3 * SHORT_LEASES.lease_ttl


async def test_a_target_that_does_not_exist_leaves_nothing_in_redis(links: Callable[..., RedisLink]) -> None:
    link = links()
    one = await board(link)
    assert await one.acquire("p/no-such-model", None, None)
    await one.release("p/no-such-model", None, Outcome.NOT_FOUND, None, None)
    assert await one.acquire("p/real", None, None)
    await one.release("p/real", None, Outcome.SUCCESS, 0.2, None)
    assert await one.acquire("p/real", None, None)  # then a 404 for a request it cannot serve
    await one.release("p/real", None, Outcome.NOT_FOUND, None, None)

    keys = await stored_keys(link)

    assert [entry.target for entry in await one.snapshot()] == ["p/real"]
    assert not [key for key in keys if "no-such-model" in key]


async def test_past_its_bound_redis_forgets_the_least_recently_tried_idle_targets(
    links: Callable[..., RedisLink],
) -> None:
    link = links()
    one = await board(link, routing=ROUTING.model_copy(update={"max_tracked_targets": 3}))
    assert await one.acquire("p/busy", None, None)  # the oldest, but in flight: kept
    for name in ("p/a", "p/b", "p/c", "p/d"):
        await asyncio.sleep(0.002)  # Redis orders targets by the millisecond they were last tried
        assert await one.acquire(name, None, None)
        await one.release(name, None, Outcome.FAILURE, None, None)

    keys = await stored_keys(link)

    assert [entry.target for entry in await one.snapshot()] == ["p/busy", "p/c", "p/d"]
    assert not [key for key in keys if key.endswith(("p/a", "p/b"))]
    await one.release("p/busy", None, Outcome.SUCCESS, 0.1, None)
    assert (await status(one, "p/busy"))[1] == 0
