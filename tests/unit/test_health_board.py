"""The in-process health board keeps only targets that exist, and a bounded number of them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from app.routing import LocalHealthBoard, Outcome

from .support import OPENROUTER_CHAT, USER_HI, json_response
from .wire_examples import openrouter_error

if TYPE_CHECKING:
    from collections.abc import Callable

    import respx

ADMIN = {"authorization": "Bearer admin-unit-0123456789"}


def make_board(max_targets: int = 100) -> LocalHealthBoard:
    return LocalHealthBoard(failure_threshold=2, cooldown=30, rate_limit_cooldown=2, max_targets=max_targets)


async def known(board: LocalHealthBoard) -> list[str]:
    return [status.target for status in await board.snapshot()]


async def attempt(board: LocalHealthBoard, target: str, outcome: Outcome, latency: float | None = None) -> None:
    assert await board.acquire(target, None, None)
    await board.release(target, None, outcome, latency, None)


async def test_a_target_that_does_not_exist_leaves_nothing_behind() -> None:
    board = make_board()

    await attempt(board, "openrouter/no-such-model", Outcome.NOT_FOUND)

    assert await known(board) == []


async def test_a_target_that_answered_before_keeps_its_history_through_a_404() -> None:
    # OpenRouter also answers 404 when none of a real model's endpoints supports the request's tools.
    board = make_board()
    await attempt(board, "openrouter/real", Outcome.SUCCESS, latency=0.5)

    await attempt(board, "openrouter/real", Outcome.NOT_FOUND)

    (status,) = await board.snapshot()
    assert status.target == "openrouter/real"
    assert status.latency == pytest.approx(0.5)
    assert status.attempts == 2


async def test_a_404_does_not_take_the_count_of_attempts_still_running() -> None:
    board = make_board()
    assert await board.acquire("p/m", None, 2)
    assert await board.acquire("p/m", None, 2)

    await board.release("p/m", None, Outcome.NOT_FOUND, None, None)

    (status,) = await board.status(["p/m"], [None])
    assert status.in_flight == 1
    assert not await board.acquire("p/m", None, 1)  # the running attempt still holds the limit


async def test_past_its_bound_the_board_forgets_the_least_recently_tried_idle_targets() -> None:
    board = make_board(max_targets=3)
    assert await board.acquire("p/busy", None, None)  # the oldest, but in flight: kept
    for name in ("p/a", "p/b", "p/c", "p/d"):
        await attempt(board, name, Outcome.FAILURE)
    await attempt(board, "p/b", Outcome.SUCCESS, latency=0.1)  # tried again: now the most recent

    assert await known(board) == ["p/b", "p/busy", "p/d"]
    await board.release("p/busy", None, Outcome.SUCCESS, 0.1, None)
    (busy,) = await board.status(["p/busy"], [None])
    assert busy.in_flight == 0


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, openrouter_error(404, "No such model", b"{}")),
        (
            400,
            b'{"error":{"message":"The model does not exist","type":"invalid_request_error","code":"model_not_found"}}',
        ),
    ],
    ids=["404", "model_not_found"],
)
async def test_unknown_model_names_leave_no_health_entry(
    make_client: Callable[..., Any], upstream: respx.MockRouter, status: int, body: bytes
) -> None:
    upstream.post(OPENROUTER_CHAT).mock(return_value=json_response(body, status))

    async with make_client(admin_key=ADMIN["authorization"].split()[1]) as client:
        answers = [
            await client.post(
                "/v1/chat/completions", json={"model": f"openrouter/vendor/nope-{n}", "messages": USER_HI}
            )
            for n in range(20)
        ]
        listing = (await client.get("/admin/targets", headers=ADMIN)).json()

    assert {answer.status_code for answer in answers} == {status}
    assert listing["data"] == []


async def test_an_unknown_mock_scenario_leaves_no_health_entry(make_client: Callable[..., Any]) -> None:
    async with make_client(admin_key=ADMIN["authorization"].split()[1]) as client:
        missing = await client.post(
            "/v1/chat/completions", json={"model": "mock/no-such-scenario", "messages": USER_HI}
        )
        answered = await client.post("/v1/chat/completions", json={"model": "mock/text", "messages": USER_HI})
        listing = (await client.get("/admin/targets", headers=ADMIN)).json()

    assert missing.status_code == 404
    assert answered.status_code == 200
    assert [entry["target"] for entry in listing["data"]] == ["mock/text"]
