"""Client keys, allowed models and per-key rate limits: the pieces, then the app with keys configured."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import pytest

from app.access import ClientKey, KeyRing, LocalRateLimiter, hash_key, new_key
from app.access.gate import duration, presented_key
from app.settings import ConfigError, load_settings

from .support import USER_HI, assert_error, stream_of

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from litestar import Litestar
    from litestar.testing import AsyncTestClient

    Client = AsyncTestClient[Litestar]

ALPHA = "sk-llmr-unit-alpha-key"
BETA = "sk-llmr-unit-beta-key"
GAMMA = "sk-llmr-unit-gamma-key"
KEYS = {
    "alpha": {"sha256": hash_key(ALPHA), "models": ["mock/*", "smart"]},
    "beta": {"sha256": hash_key(BETA), "models": ["mock/text"], "requests_per_minute": 2, "tokens_per_minute": 1000},
    "gamma": {"sha256": hash_key(GAMMA)},
}


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------------------------------------- keys


def test_a_key_hashes_to_its_sha256_and_new_keys_are_random() -> None:
    assert hash_key("abc") == hashlib.sha256(b"abc").hexdigest()
    first, second = new_key(), new_key()
    assert first != second
    assert first.startswith("sk-llmr-")
    assert len(first) > 40


def test_the_key_ring_finds_the_client_a_key_belongs_to() -> None:
    ring = KeyRing.from_settings(load_settings(keys=KEYS).keys)

    alpha = ring.authenticate(ALPHA)
    assert alpha is not None
    assert alpha.name == "alpha"
    assert ring.authenticate(BETA) is not None
    assert ring.authenticate("sk-llmr-unit-alpha-kez") is None
    assert ring.authenticate("") is None
    assert ring.authenticate(None) is None
    assert not KeyRing().enabled


@pytest.mark.parametrize(
    ("patterns", "model", "allowed"),
    [
        (("*",), "openrouter/anything/at:all", True),
        (("smart", "openrouter/*"), "smart", True),
        (("smart", "openrouter/*"), "openrouter/meta-llama/llama-3.3-70b-instruct:free", True),
        (("smart", "openrouter/*"), "deepseek/deepseek-chat", False),
        (("smart", "openrouter/*"), "smarter", False),
        (("mock/t*",), "mock/tool", True),
        (("mock/t*",), "mock/parallel", False),
    ],
)
def test_allowed_models_are_shell_patterns(patterns: tuple[str, ...], model: str, allowed: bool) -> None:
    key = ClientKey("k", b"", models=patterns)

    assert key.allows(model) is allowed


def test_configured_keys_are_validated() -> None:
    with pytest.raises(ConfigError, match="sha256"):
        load_settings(keys={"bad": {"sha256": "not-a-digest"}})
    with pytest.raises(ConfigError, match="same sha256"):
        load_settings(keys={"one": {"sha256": hash_key("x")}, "two": {"sha256": hash_key("x")}})
    with pytest.raises(ConfigError, match="key name"):
        load_settings(keys={"has space": {"sha256": hash_key("x")}})
    digest = hash_key("x").upper()
    assert load_settings(keys={"upper": {"sha256": digest}}).keys["upper"].sha256 == digest.lower()


@pytest.mark.parametrize(
    ("headers", "key"),
    [
        ([(b"authorization", b"Bearer sk-1")], "sk-1"),
        ([(b"authorization", b"bearer  sk-1 ")], "sk-1"),
        ([(b"api-key", b"sk-2")], "sk-2"),
        ([(b"x-api-key", b"sk-3")], "sk-3"),
        ([(b"x-api-key", b"sk-3"), (b"authorization", b"Bearer sk-1")], "sk-1"),
        ([(b"authorization", b"Basic c2stMQ==")], None),
        ([], None),
    ],
)
def test_the_presented_key_comes_from_the_headers_openai_sdks_send(
    headers: list[tuple[bytes, bytes]], key: str | None
) -> None:
    assert presented_key(headers) == key


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.12, "120ms"), (0.0001, "1ms"), (1, "1s"), (1.5, "1.5s"), (59.9994, "59.999s"), (360, "6m0s")],
)
def test_reset_durations_are_written_as_openai_writes_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text


# ----------------------------------------------------------------------------------------------- limits


async def test_requests_per_minute_is_a_bucket_that_refills() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(clock)
    key = ClientKey("k", b"", requests_per_minute=2)

    first = await limiter.admit(key, None)
    second = await limiter.admit(key, None)
    refused = await limiter.admit(key, None)
    clock.now += 30  # half a minute refills one request of two
    again = await limiter.admit(key, None)

    assert first.admitted
    assert first.requests is not None
    assert (first.requests.limit, first.requests.remaining) == (2, 1)
    assert second.admitted
    assert not refused.admitted
    assert refused.exhausted == "requests"
    assert refused.retry_after == pytest.approx(30)
    assert again.admitted
    assert first.tokens is None


async def test_tokens_are_reserved_up_front_and_settled_after() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(clock)
    key = ClientKey("k", b"", tokens_per_minute=600)  # ten tokens a second

    reserved = await limiter.admit(key, 500)
    refused = await limiter.admit(key, 200)
    await limiter.settle(key, reserved=500, used=100)  # 400 come back
    admitted = await limiter.admit(key, 200)

    assert reserved.admitted
    assert reserved.tokens is not None
    assert reserved.tokens.remaining == 100
    assert not refused.admitted
    assert refused.exhausted == "tokens"
    assert refused.retry_after == pytest.approx(10)
    assert admitted.admitted
    assert admitted.tokens is not None
    assert admitted.tokens.remaining == 300


async def test_a_request_larger_than_the_whole_limit_waits_for_a_full_bucket() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(clock)
    key = ClientKey("k", b"", tokens_per_minute=100)

    huge = await limiter.admit(key, 250)
    after = await limiter.admit(key, 1)
    clock.now += 150  # the debt of 150 is paid after 90 s, and 1 token more after 0.6 s
    later = await limiter.admit(key, 1)

    assert huge.admitted
    assert not after.admitted
    assert after.retry_after == pytest.approx(90.6)
    assert later.admitted


# ------------------------------------------------------------------------------------------ in the app


@pytest.fixture
async def keyed(make_client: Any) -> AsyncIterator[Client]:
    aliases = {"smart": {"targets": ["mock/text"]}, "other": {"targets": ["mock/text"]}}
    async with make_client(keys=KEYS, models=aliases, providers={}) as client:
        yield client


async def test_without_a_key_the_api_answers_401(keyed: Client) -> None:
    missing = await keyed.post("/v1/chat/completions", json={"model": "mock/text", "messages": USER_HI})
    wrong = await keyed.post(
        "/v1/chat/completions", json={"model": "mock/text", "messages": USER_HI}, headers=bearer("sk-wrong")
    )
    models = await keyed.get("/v1/models")

    assert_error(missing, 401, code="invalid_api_key")
    assert_error(wrong, 401, code="invalid_api_key")
    assert_error(models, 401, code="invalid_api_key")
    assert "alpha" not in wrong.text
    assert "x-request-id" in missing.headers


async def test_only_the_operational_paths_stay_open(keyed: Client) -> None:
    assert (await keyed.get("/health")).status_code == 200
    assert (await keyed.get("/ready")).status_code == 200
    assert (await keyed.get("/openapi.json")).status_code == 200
    assert (await keyed.get("/admin/targets")).json()["error"]["code"] == "admin_disabled"  # its own rules
    assert_error(await keyed.get("/v2/anything"), 401, code="invalid_api_key")  # not even a 404 without a key


@pytest.mark.parametrize("header", ["authorization", "api-key", "x-api-key"])
async def test_a_configured_key_is_accepted_in_each_header(keyed: Client, header: str) -> None:
    value = f"Bearer {ALPHA}" if header == "authorization" else ALPHA
    response = await keyed.post(
        "/v1/chat/completions", json={"model": "mock/text", "messages": USER_HI}, headers={header: value}
    )

    assert response.status_code == 200, response.text
    assert "x-ratelimit-limit-requests" not in response.headers  # alpha has no limits


async def test_a_model_the_key_does_not_allow_is_403(keyed: Client) -> None:
    asked = await keyed.post(
        "/v1/chat/completions", json={"model": "other", "messages": USER_HI}, headers=bearer(ALPHA)
    )
    in_fallbacks = await keyed.post(
        "/v1/chat/completions",
        json={"model": "mock/text", "models": ["smart", "deepseek/deepseek-chat"], "messages": USER_HI},
        headers=bearer(ALPHA),
    )
    responses = await keyed.post("/v1/responses", json={"model": "other", "input": "Hi"}, headers=bearer(ALPHA))

    assert assert_error(asked, 403, code="model_not_allowed")["param"] == "model"
    assert assert_error(in_fallbacks, 403, code="model_not_allowed")["param"] == "models[1]"
    assert assert_error(responses, 403, code="model_not_allowed")["param"] == "model"


async def test_the_model_list_shows_only_what_the_key_allows(keyed: Client) -> None:
    alpha = {model["id"] for model in (await keyed.get("/v1/models", headers=bearer(ALPHA))).json()["data"]}
    beta = {model["id"] for model in (await keyed.get("/v1/models", headers=bearer(BETA))).json()["data"]}
    hidden = await keyed.get("/v1/models/mock/tool", headers=bearer(BETA))

    assert "smart" in alpha
    assert "mock/tool" in alpha
    assert "other" not in alpha
    assert beta == {"mock/text"}
    assert_error(hidden, 404, code="model_not_found")


async def test_limited_keys_see_their_quota_and_get_429_with_retry_after(keyed: Client) -> None:
    body = {"model": "mock/text", "messages": USER_HI}
    first = await keyed.post("/v1/chat/completions", json=body, headers=bearer(BETA))
    second = await keyed.post("/v1/chat/completions", json={**body, "stream": True}, headers=bearer(BETA))
    third = await keyed.post("/v1/chat/completions", json=body, headers=bearer(BETA))

    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-reset-requests"].endswith("s")
    assert first.headers["x-ratelimit-limit-tokens"] == "1000"
    assert int(first.headers["x-ratelimit-remaining-tokens"]) < 1000
    stream_of(second)
    assert second.headers["x-ratelimit-remaining-requests"] == "0"
    assert_error(third, 429, code="rate_limit_exceeded")
    assert 1 <= int(third.headers["retry-after"]) <= 30
    assert third.headers["x-ratelimit-remaining-requests"] == "0"


async def test_a_stored_response_belongs_to_the_key_that_made_it(keyed: Client) -> None:
    made = await keyed.post("/v1/responses", json={"model": "mock/text", "input": "Hi"}, headers=bearer(ALPHA))
    response_id = made.json()["id"]

    own = await keyed.get(f"/v1/responses/{response_id}", headers=bearer(ALPHA))
    other = await keyed.get(f"/v1/responses/{response_id}", headers=bearer(GAMMA))
    continued = await keyed.post(
        "/v1/responses",
        json={"model": "mock/text", "input": "More", "previous_response_id": response_id},
        headers=bearer(GAMMA),
    )
    deleted_by_other = await keyed.delete(f"/v1/responses/{response_id}", headers=bearer(GAMMA))

    assert own.status_code == 200
    assert_error(other, 404)
    assert_error(continued, 400, code="previous_response_not_found")
    assert_error(deleted_by_other, 404)
    assert (await keyed.get(f"/v1/responses/{response_id}", headers=bearer(ALPHA))).status_code == 200


async def test_an_open_router_ignores_keys(client: Client) -> None:
    response = await client.post(
        "/v1/chat/completions", json={"model": "mock/text", "messages": USER_HI}, headers=bearer("anything")
    )

    assert response.status_code == 200
    assert "x-ratelimit-limit-requests" not in response.headers
