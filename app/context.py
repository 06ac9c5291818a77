"""What one request learns about itself while it is served: who asked, for what, what served it, at what cost.

The outermost middleware (`app.telemetry.requests`) opens a `RequestContext` for every HTTP request and
makes it current; the access layer fills in the client key and its quotas, handlers the model, target and
usage, and the routing observer counts upstream attempts. When the response is complete, the same object
becomes the request's log line and metrics. A context variable carries it, so code several calls deep (the
router) can reach it without threading it through every signature; tasks started while serving a request
(a stream's body) inherit it.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from providers.schema import Usage

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from msgspec import UnsetType

    from app.access.keys import ClientKey
    from app.access.limits import Quota

__all__ = ["RequestContext", "active", "close", "current", "opened"]


@dataclass(slots=True)
class RequestContext:
    request_id: str
    method: str
    path: str
    started: float
    """`time.perf_counter()` when the request arrived."""
    client: ClientKey | None = None
    model: str | None = None
    """The model the client asked for."""
    stream: bool = False
    target: str | None = None
    """The target that served the answer."""
    attempts: int = 0
    """Upstream attempts made, across every target tried."""
    status: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tool_calls: int = 0
    tool_rounds: int | None = None
    """Rounds of tool calls the router ran itself (an agent's); None when it ran none."""
    request_quota: Quota | None = None
    token_quota: Quota | None = None
    reserved_tokens: int = 0
    """Tokens reserved against the client's per-minute limit before the answer; settled after it."""
    rate_limited: str | None = None
    """The client's own limit that refused the request (`requests` or `tokens`)."""
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Run when the request is over, however it ended (see `on_close`)."""

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run `closer` when the request is over: even if its response body never started (a client that
        left as the response began), an upstream stream it opened is closed and its slot given back."""
        self.closers.append(closer)

    @property
    def key_name(self) -> str | None:
        return self.client.name if self.client is not None else None

    @property
    def used_tokens(self) -> int:
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)

    def served(self, target: str) -> None:
        self.target = target

    def count_usage(self, usage: Usage | UnsetType | None) -> None:
        """Add one turn's usage: an answer made of several turns bills all of them."""
        if isinstance(usage, Usage):
            self.prompt_tokens = (self.prompt_tokens or 0) + (usage.prompt_tokens or 0)
            self.completion_tokens = (self.completion_tokens or 0) + (usage.completion_tokens or 0)


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("llm_router_request", default=None)


def current() -> RequestContext:
    """The request being served. Outside one (a unit test calling a handler directly) a throwaway context."""
    context = _current.get()
    return context if context is not None else RequestContext("", "", "", 0.0)


def active() -> RequestContext | None:
    """The request being served, if any."""
    return _current.get()


def opened(context: RequestContext) -> contextvars.Token[RequestContext | None]:
    """Make `context` current; hand the token back to `close` when the request is over."""
    return _current.set(context)


def close(token: contextvars.Token[RequestContext | None]) -> None:
    _current.reset(token)
