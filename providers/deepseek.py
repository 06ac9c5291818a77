"""DeepSeek: OpenAI's dialect without the `developer` role, with keep-alives and its own usage fields.

Blank lines before a queued non-streaming body, `: keep-alive` stream comments, the extra `index` inside
non-streaming tool calls, `prompt_cache_hit_tokens` and `insufficient_system_resource` are handled by the
shared codec; usage on the finish chunk is moved to its own chunk by `app.normalise`. `reasoning_content`
passes both ways untouched, which its thinking mode requires after tool calls. This module maps the
`developer` role, which DeepSeek rejects, to `system`, and `max_completion_tokens` to its `max_tokens`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from pydantic_settings import SettingsConfigDict

from providers.base import Capabilities, ProviderSettings
from providers.openai_compat import OpenAICompatibleProvider, rewrite_messages
from providers.schema import UNSET, DeveloperMessage

if TYPE_CHECKING:
    from providers.request import ChatRequest

__all__ = ["DeepSeekProvider", "DeepSeekSettings"]

_SYSTEM = msgspec.Raw(b'"system"')


class DeepSeekSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="DEEPSEEK_")

    base_url: str = "https://api.deepseek.com"


class DeepSeekProvider(OpenAICompatibleProvider):
    name = "deepseek"
    settings_class = DeepSeekSettings
    capabilities = Capabilities(tools=True, streaming=True, json_schema=False, vision=False)
    api_key_env = "DEEPSEEK_API_KEY"

    def adapt_fields(self, request: ChatRequest) -> dict[str, Any]:
        fields = rewrite_messages(request, lambda message: isinstance(message, DeveloperMessage), _as_system)
        params = request.params
        if isinstance(params.max_completion_tokens, int) and not isinstance(params.max_tokens, int):
            # DeepSeek's API takes the limit as `max_tokens`; OpenAI's newer name would be ignored.
            fields["max_tokens"] = params.max_completion_tokens
            fields["max_completion_tokens"] = UNSET
        return fields


def _as_system(message: dict[str, msgspec.Raw]) -> None:
    message["role"] = _SYSTEM
