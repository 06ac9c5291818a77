"""Where client keys and limits meet requests: the middleware that asks for a key, and the admission
handlers ask for.

With keys configured, every request must present one (`Authorization: Bearer <key>`, or the `api-key` /
`x-api-key` header other OpenAI-style SDKs send), or it is refused with 401 before any handler runs. Only the
operational paths are exempt and keep their own rules: `/health`, `/ready`, `/openapi.json`, `/metrics`
(loopback or the admin key), `/admin/*`, `/v1/toolsets*` and `/v1/agents*` (the admin key), and the
dashboard's page and files under `/ui` (which hold nothing: its data comes from `/admin/*`). Exempting these
few, rather than protecting `/v1/*`, means no spelling of a path can reach the API without a key.

The handler, once it knows what the request asks for, calls `admit`: a model the key may not use is a 403,
and a key over its limits a 429 with `Retry-After`. Responses to a limited key carry OpenAI's
`x-ratelimit-*` headers, and its token reservation is settled against the upstream's usage once the answer
(stream or not) is complete.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from litestar.enums import ScopeType

from app.context import current
from app.errors import send_error
from providers.errors import ClientRateLimited, InvalidAPIKey, ModelNotAllowed

if TYPE_CHECKING:
    from collections.abc import Iterable

    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from app.access.keys import KeyRing
    from app.access.limits import Quota, RateLimiter
    from app.context import RequestContext
    from app.telemetry.logs import Redactor
    from providers.request import ChatRequest

__all__ = ["ClientGate", "admit", "charge_tokens", "estimate_tokens", "presented_key", "quota_headers"]

_OPEN = frozenset(("/health", "/ready", "/openapi.json", "/metrics"))
# `/admin/*`, and the admin APIs of the tool registry and the agents: the admin key, never a client key.
# `/ui`: the dashboard's page and files, which hold nothing (its data comes from `/admin/*`).
_ADMIN_APIS = frozenset(("/v1/toolsets", "/v1/agents", "/ui"))
_ADMIN_PREFIXES = ("/admin/", "/v1/toolsets/", "/v1/agents/", "/ui/")
_REQUEST_HEADERS = (b"x-ratelimit-limit-requests", b"x-ratelimit-remaining-requests", b"x-ratelimit-reset-requests")
_TOKEN_HEADERS = (b"x-ratelimit-limit-tokens", b"x-ratelimit-remaining-tokens", b"x-ratelimit-reset-tokens")


class ClientGate:
    """ASGI middleware: authenticates requests against the key ring and settles their token use."""

    def __init__(self, app: ASGIApp, keys: KeyRing, limiter: RateLimiter, redactor: Redactor) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.redactor = redactor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.keys.enabled or scope["type"] != ScopeType.HTTP or _exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        presented = presented_key(scope["headers"])
        key = self.keys.authenticate(presented)
        if key is None or presented is None:
            await send_error(send, _missing() if presented is None else _incorrect())
            return
        self.redactor.learn(key.name, presented)
        context = current()
        context.client = key
        if not key.limited:
            await self.app(scope, receive, send)
            return

        async def send_with_quotas(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *quota_headers(context)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_quotas)
        finally:
            # Not shielded: ASGI servers end a request by telling it the client left, not by cancelling it,
            # and a settlement lost to a cancellation leaves the estimate taken, which errs the safe way.
            if context.reserved_tokens:
                await self.limiter.settle(key, context.reserved_tokens, context.used_tokens)


async def admit(limiter: RateLimiter, models: Iterable[tuple[str, str]] = (), tokens: int | None = None) -> None:
    """Let the current request's client ask for `models` ((name, param) pairs) and spend about `tokens`.

    Raises `ModelNotAllowed` (403) or `ClientRateLimited` (429); does nothing for an open router.
    """
    context = current()
    key = context.client
    if key is None:
        return
    for model, param in models:
        if not key.allows(model):
            raise ModelNotAllowed(f"This API key may not use the model '{model}'.", param=param)
    if not key.limited:
        return
    admission = await limiter.admit(key, tokens)
    context.request_quota, context.token_quota = admission.requests, admission.tokens
    if not admission.admitted:
        context.rate_limited = admission.exhausted
        limit = key.requests_per_minute if admission.exhausted == "requests" else key.tokens_per_minute
        raise ClientRateLimited(
            f"Rate limit reached for this API key on {admission.exhausted} per minute (limit {limit}). "
            f"Try again in {math.ceil(admission.retry_after)} s.",
            retry_after=admission.retry_after,
        )
    context.reserved_tokens = tokens or 0


async def charge_tokens(limiter: RateLimiter, tokens: int) -> None:
    """Take another turn's estimated tokens from the current request's key (an agent's next round): never
    refused, since the request was admitted, and settled with the rest when the answer is over."""
    context = current()
    key = context.client
    if key is None or key.tokens_per_minute is None or tokens <= 0:
        return
    await limiter.settle(key, 0, tokens)
    context.reserved_tokens += tokens


def estimate_tokens(request: ChatRequest) -> int:
    """Tokens a request may use, before the upstream says: about four bytes of prompt JSON per token, plus the
    completion budget it asked for."""
    messages = request.fields.get("messages")
    # The raw JSON slice of the body: a memoryview reads its length without copying it.
    prompt = memoryview(messages).nbytes // 4 if messages is not None else 0
    params = request.params
    budget = params.max_completion_tokens if isinstance(params.max_completion_tokens, int) else params.max_tokens
    return prompt + (budget if isinstance(budget, int) else 0)


def presented_key(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The key a request presents: `Authorization: Bearer`, else `api-key` or `x-api-key`."""
    other: str | None = None
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
        elif name in (b"api-key", b"x-api-key") and value.strip():
            other = value.decode("latin-1").strip()
    return other


def quota_headers(context: RequestContext) -> list[tuple[bytes, bytes]]:
    """OpenAI's rate-limit headers for what the request's admission found."""
    headers: list[tuple[bytes, bytes]] = []
    if context.request_quota is not None:
        headers += _quota_headers(_REQUEST_HEADERS, context.request_quota)
    if context.token_quota is not None:
        headers += _quota_headers(_TOKEN_HEADERS, context.token_quota)
    return headers


def _quota_headers(names: tuple[bytes, bytes, bytes], quota: Quota) -> list[tuple[bytes, bytes]]:
    limit, remaining, reset = names
    return [
        (limit, b"%d" % quota.limit),
        (remaining, b"%d" % quota.remaining),
        (reset, duration(quota.reset).encode()),
    ]


def duration(seconds: float) -> str:
    """A duration as OpenAI writes it in `x-ratelimit-reset-*`: `0s`, `120ms`, `1.5s`, `6m0s`."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    minutes, rest = divmod(round(seconds, 3), 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


def _exempt(path: str) -> bool:
    return path in _OPEN or path in _ADMIN_APIS or path.startswith(_ADMIN_PREFIXES)


def _missing() -> InvalidAPIKey:
    return InvalidAPIKey("Missing API key: send the key you were given as `Authorization: Bearer <key>`.")


def _incorrect() -> InvalidAPIKey:
    return InvalidAPIKey("Incorrect API key provided.")
