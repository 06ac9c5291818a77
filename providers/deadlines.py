"""Deadlines for many tasks on one timer: `asyncio.timeout()`'s guarantee without a timer for every use.

`asyncio.timeout()` arms a timer when it is entered and cancels it when left, and the event loop keeps the
cancelled timer until it comes due or a clean-up sweeps it. On the router's hot path that costs several
microseconds a use, and every request used two or three: its body's arrival, each upstream attempt, the
drain of a finished stream. Nearly every one ends long before its deadline.

`Deadlines` keeps the deadlines of the blocks inside it in a dict, and one timer set for the earliest. A
block that ends removes its entry and touches no timer. The timer is set again only when it fires (for the
earliest deadline still to come) or when a block's deadline is earlier than the one it is set for, which
for blocks of one length in a row is never. When it fires, every block past its deadline is cancelled and,
like `asyncio.timeout()`, raises `TimeoutError` from its `with` (a cancellation from elsewhere is left alone
and propagates as it is).

A `Deadlines` belongs to the event loop that first uses it, and starts afresh on another loop (a test's).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["Deadline", "Deadlines"]


class Deadlines:
    """The deadlines of the `within()` blocks running on one event loop, kept by one timer."""

    __slots__ = ("_armed_for", "_blocks", "_loop", "_timer")

    def __init__(self) -> None:
        self._blocks: dict[Deadline, float] = {}  # each running block, and when its time is up
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = 0.0

    def within(self, seconds: float) -> Deadline:
        """`with deadlines.within(seconds):` ends its block with `TimeoutError` after `seconds`, as
        `async with asyncio.timeout(seconds):` does. Entered inside the task whose block it bounds."""
        return Deadline(self, seconds)

    def __len__(self) -> int:
        """Blocks running now."""
        return len(self._blocks)

    def _add(self, block: Deadline, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # first use, or another loop's: what the last one held is not ours to keep
            self._blocks.clear()
            self._loop, self._timer = loop, None
        when = loop.time() + seconds
        self._blocks[block] = when
        if self._timer is None or when < self._armed_for:
            self._arm(loop, when)

    def _remove(self, block: Deadline) -> None:
        self._blocks.pop(block, None)

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed_for = when
        self._timer = loop.call_at(when, self._fire)

    def _fire(self) -> None:
        loop = self._loop
        assert loop is not None, "the timer is set on the loop it fires on"
        self._timer = None
        now = loop.time()
        due = [block for block, when in self._blocks.items() if when <= now]
        for block in due:
            del self._blocks[block]
            block.expire()
        if self._blocks:
            self._arm(loop, min(self._blocks.values()))


class Deadline:
    """One block's deadline (`Deadlines.within()`)."""

    __slots__ = ("_cancelling", "_deadlines", "_seconds", "_task", "expired")

    def __init__(self, deadlines: Deadlines, seconds: float) -> None:
        self._deadlines = deadlines
        self._seconds = seconds
        self._task: asyncio.Task[object] | None = None
        self._cancelling = 0
        self.expired = False

    def __enter__(self) -> Deadline:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a deadline bounds a block of a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._deadlines._add(self, self._seconds)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._deadlines._remove(self)
        task = self._task
        if not self.expired or task is None:
            return
        # The block's own cancellation is taken back however the block ended, and becomes a TimeoutError
        # unless another cancellation is pending, which then propagates as it is.
        if task.uncancel() <= self._cancelling and kind is asyncio.CancelledError:
            raise TimeoutError from error

    def expire(self) -> None:
        """Cancel the block: its time is up."""
        self.expired = True
        if self._task is not None:
            self._task.cancel()
