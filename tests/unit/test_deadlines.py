"""Deadlines on one timer (`providers.deadlines`): each block ends as `asyncio.timeout()` would end it."""

from __future__ import annotations

import asyncio

import pytest

from providers.deadlines import Deadlines


async def test_a_block_past_its_deadline_raises_timeout_error_and_leaves_its_task_uncancelled() -> None:
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    started = loop.time()

    with pytest.raises(TimeoutError), deadlines.within(0.05):
        await asyncio.sleep(5)

    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    assert 0.05 <= loop.time() - started < 1
    assert len(deadlines) == 0
    await asyncio.sleep(0)  # and the task goes on: nothing is pending for it


async def test_a_block_that_ends_in_time_is_left_alone_and_forgotten() -> None:
    deadlines = Deadlines()
    for _ in range(3):
        with deadlines.within(0.05):
            await asyncio.sleep(0)
    assert len(deadlines) == 0
    await asyncio.sleep(0.1)  # past the deadlines: the timer, if it fires, finds nothing to cancel


async def test_a_shorter_deadline_after_a_longer_one_is_kept_on_time() -> None:
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    ended: dict[str, float] = {}

    async def block(name: str, seconds: float) -> None:
        try:
            with deadlines.within(seconds):
                await asyncio.sleep(5)
        except TimeoutError:
            ended[name] = loop.time()

    started = loop.time()
    long = asyncio.create_task(block("long", 0.4))
    await asyncio.sleep(0)
    await block("short", 0.05)
    await long

    assert ended["short"] - started < 0.3
    assert ended["long"] - started >= 0.4


async def test_blocks_of_many_tasks_each_end_at_their_own_deadline() -> None:
    deadlines = Deadlines()
    outcomes: list[str] = []

    async def block(seconds: float, work: float) -> None:
        try:
            with deadlines.within(seconds):
                await asyncio.sleep(work)
            outcomes.append("done")
        except TimeoutError:
            outcomes.append("timed out")

    await asyncio.gather(*(block(0.1, 0.01) for _ in range(20)), *(block(0.05, 5) for _ in range(20)))

    assert sorted(outcomes) == ["done"] * 20 + ["timed out"] * 20
    assert len(deadlines) == 0


async def test_a_cancellation_from_elsewhere_is_not_turned_into_a_timeout() -> None:
    deadlines = Deadlines()

    async def bounded() -> None:
        with deadlines.within(5):
            await asyncio.sleep(5)

    task = asyncio.create_task(bounded())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(deadlines) == 0


async def test_a_cancellation_arriving_with_the_deadline_still_cancels() -> None:
    deadlines = Deadlines()
    expired = asyncio.Event()

    async def bounded() -> None:
        with deadlines.within(0.05) as deadline:
            try:
                await asyncio.sleep(5)
            finally:
                if deadline.expired:
                    expired.set()
                    await asyncio.sleep(5)  # cancelled again from outside while the deadline's cancel is handled

    task = asyncio.create_task(bounded())
    await expired.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_inner_deadline_ends_only_its_own_block() -> None:
    deadlines = Deadlines()
    with deadlines.within(5):
        with pytest.raises(TimeoutError), deadlines.within(0.05):
            await asyncio.sleep(5)
        await asyncio.sleep(0.01)  # the outer block is still running, uncancelled
    assert len(deadlines) == 0


def test_one_set_of_deadlines_serves_each_event_loop_it_runs_on() -> None:
    deadlines = Deadlines()

    async def times_out() -> bool:
        try:
            with deadlines.within(0.05):
                await asyncio.sleep(1)
        except TimeoutError:
            return True
        return False

    async def leaves_a_block_open() -> None:
        with deadlines.within(0.01):
            raise RuntimeError("the loop ends before the deadline's timer fires")

    assert asyncio.run(times_out())
    with pytest.raises(RuntimeError):
        asyncio.run(leaves_a_block_open())
    # The timer left behind was the last loop's: this loop's block gets one of its own.
    assert asyncio.run(times_out())
