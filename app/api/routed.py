"""What the routed endpoints share: per-request routing limits from headers, and how answers go out.

A client may bound one request with `x-llm-router-timeout` (seconds, the whole request) and
`x-llm-router-max-attempts` (attempts per target). Every routed answer names the target that served it in
`x-llm-router-target` and the upstream attempts it took in `x-llm-router-attempts`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, TypeVar

from app.routing import Overrides
from providers.errors import InvalidRequest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from app.routing import RouteTarget
    from providers.request import ChatRequest

__all__ = [
    "MAX_ATTEMPTS_HEADER",
    "TIMEOUT_HEADER",
    "request_overrides",
    "requested_models",
    "route_headers",
]

TIMEOUT_HEADER = "x-llm-router-timeout"
MAX_ATTEMPTS_HEADER = "x-llm-router-max-attempts"
N = TypeVar("N", int, float)


def request_overrides(headers: Mapping[str, str]) -> Overrides | None:
    """The limits a client set for this request, or None."""
    timeout = headers.get(TIMEOUT_HEADER)
    attempts = headers.get(MAX_ATTEMPTS_HEADER)
    if timeout is None and attempts is None:
        return None
    return Overrides(
        timeout=_header_number(TIMEOUT_HEADER, timeout, float, "a number of seconds above 0"),
        max_attempts=_header_number(MAX_ATTEMPTS_HEADER, attempts, int, "a whole number from 1"),
    )


def requested_models(request: ChatRequest) -> Iterator[tuple[str, str]]:
    """Every model the request may reach, with its `param`: `model`, and each name in its `models` list
    (the router's fallback list, or OpenRouter's, which would reach those models upstream)."""
    yield request.params.model, "model"
    for position, name in enumerate(request.fallback_models()):
        yield name, f"models[{position}]"


def route_headers(target: RouteTarget, attempts: int, tool_rounds: int | None = None) -> dict[str, str]:
    """Which target served a request, in how many upstream attempts, and (an agent's answer) after how many
    rounds of tool calls the router ran itself."""
    headers = {"x-llm-router-target": target.name, "x-llm-router-attempts": str(attempts)}
    if tool_rounds is not None:
        headers["x-llm-router-tool-rounds"] = str(tool_rounds)
    return headers


def _header_number(name: str, value: str | None, kind: Callable[[str], N], expected: str) -> N | None:
    if value is None:
        return None
    try:
        number = kind(value)
    except ValueError:
        number = None
    if number is None or not number > 0 or (isinstance(number, float) and not math.isfinite(number)):
        raise InvalidRequest(f"The header {name} must be {expected}, not {value!r}.", param=name, code="invalid_value")
    return number
