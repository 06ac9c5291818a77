"""Metric labels stay bounded, however many model names clients invent."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from app.telemetry.metrics import ModelLabels

from .support import OPENROUTER_CHAT, USER_HI, json_response
from .wire_examples import openrouter_error

if TYPE_CHECKING:
    import respx


def test_configured_names_always_have_labels_and_others_until_the_limit() -> None:
    labels = ModelLabels({"smart", "openrouter/known"}, limit=2)

    assert [labels(name) for name in ("openrouter/a", "openrouter/b", "openrouter/c", "deepseek/d")] == [
        "openrouter/a",
        "openrouter/b",
        "openrouter/other",
        "deepseek/other",
    ]
    assert labels("openrouter/a") == "openrouter/a"
    assert labels("smart") == "smart"
    assert labels("openrouter/known") == "openrouter/known"


def series(exposition: str) -> set[str]:
    """Each series of a scrape: its name and labels, without its value."""
    return {line.rsplit(" ", 1)[0] for line in exposition.splitlines() if not line.startswith("#")}


def label_values(exposition: str, label: str) -> set[str]:
    return set(re.findall(rf'{label}="([^"]*)"', exposition))


async def test_invented_model_names_fold_into_one_label(make_client: Any, upstream: respx.MockRouter) -> None:
    upstream.post(OPENROUTER_CHAT).mock(return_value=json_response(openrouter_error(404, "No such model"), 404))
    admin = {"authorization": "Bearer admin-key-for-metrics"}
    async with make_client(metrics_label_limit=10, admin_key="admin-key-for-metrics") as client:

        async def invent(first: int, count: int) -> str:
            for number in range(first, first + count):
                body = {"model": f"openrouter/invented-{number}", "messages": USER_HI}
                await client.post("/v1/chat/completions", json=body)
            scrape = await client.get("/metrics", headers=admin)
            assert scrape.status_code == 200, scrape.text
            text: str = scrape.text
            return text

        await invent(0, 0)  # a first scrape, so the scrapes' own series exist from here on
        after_20 = await invent(0, 20)
        after_220 = await invent(20, 200)

    targets = label_values(after_220, "target")
    assert len(targets) == 11
    assert "openrouter/other" in targets
    assert series(after_220) == series(after_20)  # the counts grew, not the number of series
