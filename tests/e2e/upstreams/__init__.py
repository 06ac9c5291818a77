"""Scripted upstreams for the end-to-end tests: one server on 127.0.0.1 playing every provider's dialect.

`DIALECTS` is the registry. The router is pointed at each entry (`Dialect.router_env`), and the conformance
suite (`tests/e2e/test_chat_conformance.py`) runs once per entry, so a new provider adapter gets the whole
suite with one line here. What each scenario does is in `scenarios`; what a dialect is, in `dialect`.
"""

from __future__ import annotations

from tests.e2e.upstreams.anthropic import AnthropicDialect
from tests.e2e.upstreams.configured import ConfiguredDialect
from tests.e2e.upstreams.deepseek import DeepSeekDialect
from tests.e2e.upstreams.dialect import Dialect
from tests.e2e.upstreams.openai_wire import OpenAIWireDialect
from tests.e2e.upstreams.openrouter import OpenRouterDialect
from tests.e2e.upstreams.server import Received, StreamEnd, Upstream

__all__ = [
    "DIALECTS",
    "AnthropicDialect",
    "ConfiguredDialect",
    "DeepSeekDialect",
    "Dialect",
    "OpenAIWireDialect",
    "OpenRouterDialect",
    "Received",
    "StreamEnd",
    "Upstream",
]

DIALECTS: tuple[Dialect, ...] = (
    OpenRouterDialect(),
    DeepSeekDialect(),
    AnthropicDialect(),
    ConfiguredDialect(),
)
