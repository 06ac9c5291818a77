"""State that several workers and instances must agree on: target health, client rate limits, and the
stored Responses-API conversations they may continue.

    link        the Redis connection: fails over to local state, and re-checks until Redis is back
    board       `RedisHealthBoard`, the routing health board in Redis (Lua scripts in `lua/`)
    limiter     `RedisRateLimiter`, the client-key token buckets in Redis
    responses   `RedisResponseStore`, stored responses for `previous_response_id`
    turns       `RedisTurnMemory`, an agent's turns waiting for the client's own tool results
    records     `RedisRecordStore`, what the admin API registers (toolsets, agents), for every instance

Without `REDIS_URL` the router uses its in-process board and limiter: right for one worker. `SharedState`
is what `create_app` chooses from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.access.limits import LocalRateLimiter
from app.agents.memory import LocalTurnMemory
from app.responses.store import InMemoryResponseStore
from app.routing.health import LocalHealthBoard
from app.settings import ConfigError
from app.shared.board import RedisHealthBoard
from app.shared.limiter import RedisRateLimiter
from app.shared.link import RedisLink
from app.shared.responses import RedisResponseStore
from app.shared.turns import RedisTurnMemory

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.access.limits import RateLimiter
    from app.agents.memory import TurnMemory
    from app.responses.store import ResponseStore
    from app.routing.health import HealthBoard
    from app.settings import Settings

__all__ = ["SharedState"]


@dataclass(frozen=True, slots=True)
class SharedState:
    board: HealthBoard
    limiter: RateLimiter
    responses: ResponseStore
    turns: TurnMemory
    redis: RedisLink | None = None

    @classmethod
    def from_settings(cls, settings: Settings, on_redis_change: Callable[[bool], None]) -> SharedState:
        routing = settings.routing
        board = LocalHealthBoard(
            failure_threshold=routing.failure_threshold,
            cooldown=routing.cooldown,
            rate_limit_cooldown=routing.rate_limit_cooldown,
            max_targets=routing.max_tracked_targets,
        )
        limiter = LocalRateLimiter()
        stored = settings.responses
        responses = InMemoryResponseStore(max_entries=stored.max_entries, max_bytes=stored.max_bytes, ttl=stored.ttl)
        turns = LocalTurnMemory(max_entries=stored.max_entries, ttl=stored.ttl)
        if settings.redis_url is None:
            return cls(board, limiter, responses, turns)
        try:
            link = RedisLink(
                settings.redis_url.get_secret_value(),
                prefix=settings.redis.prefix,
                timeout=settings.redis.timeout,
                recheck_interval=settings.redis.recheck_interval,
                on_change=on_redis_change,
            )
        except ValueError:  # redis' message quotes the URL, which may hold a password: say it without it
            raise ConfigError(
                "redis_url (REDIS_URL) is not a Redis URL: it starts with redis://, rediss:// or unix://."
            ) from None
        return cls(
            RedisHealthBoard(link, board, routing, settings.redis),
            RedisRateLimiter(link, limiter),
            RedisResponseStore(link, responses, stored.ttl),
            RedisTurnMemory(link, turns),
            link,
        )

    @property
    def degraded(self) -> bool:
        """Redis is configured but unreachable: the router runs on local state."""
        return self.redis is not None and not self.redis.up

    async def start(self) -> None:
        if self.redis is not None:
            await self.redis.start()
        if isinstance(self.board, RedisHealthBoard):
            self.board.start()

    async def close(self) -> None:
        if isinstance(self.board, RedisHealthBoard):
            await self.board.close()
        if self.redis is not None:
            await self.redis.close()
