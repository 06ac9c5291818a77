"""OpenRouter: OpenAI's dialect plus attribution headers, its own error envelope and reasoning fields.

What differs from OpenAI and where it is handled: the `{code: int, message, metadata}` error envelope,
`finish_reason: "error"` in 200 bodies and streams, `reasoning` in place of `reasoning_content`, SSE comment
lines and usage sent on every stream are all OpenAI-dialect variants handled by the shared codec; role
repeated on every delta is normalised for every provider in `app.normalise`. This module adds the optional
attribution headers, sends a client's `reasoning_content` back under OpenRouter's name, `reasoning`, and
says which models its `free` alias stands for (`expand_alias`): the `:free` variants, which share one
account-wide quota.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic_settings import SettingsConfigDict

from providers.base import AliasModels, Capabilities, ModelInfo, ProviderSettings
from providers.openai_compat import ModelEntry, OpenAICompatibleProvider, rewrite_messages
from providers.schema import AssistantMessage, Message

if TYPE_CHECKING:
    from collections.abc import Sequence

    import msgspec

    from providers.request import ChatRequest

__all__ = ["OpenRouterProvider", "OpenRouterSettings"]


class OpenRouterSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="OPENROUTER_")

    base_url: str = "https://openrouter.ai/api/v1"
    app_url: str | None = None
    """Sent as `HTTP-Referer`: the site OpenRouter attributes requests to."""
    app_title: str | None = None
    """Sent as `X-Title`: the application name OpenRouter shows in its rankings."""


class OpenRouterProvider(OpenAICompatibleProvider):
    name = "openrouter"
    settings_class = OpenRouterSettings
    capabilities = Capabilities(tools=True, streaming=True, json_schema=True, vision=True)
    api_key_env = "OPENROUTER_API_KEY"

    def headers(self) -> dict[str, str]:
        headers = super().headers()
        settings = self.settings
        assert isinstance(settings, OpenRouterSettings)
        if settings.app_url:
            headers["http-referer"] = settings.app_url
        if settings.app_title:
            headers["x-title"] = settings.app_title
        return headers

    def adapt_fields(self, request: ChatRequest) -> dict[str, Any]:
        return rewrite_messages(request, _carries_reasoning, _as_reasoning)

    def expand_alias(self, alias: str, listed: Sequence[ModelInfo]) -> AliasModels | None:
        """`free`: the models OpenRouter offers at no cost, whose ids end in `:free`."""
        if alias != "free":
            return None
        # Free models draw on one quota per account: a 429 from one is a 429 for all of them.
        return AliasModels([info for info in listed if info.id.endswith(":free")], quota_group=f"{self.name}:free")

    def model_info(self, entry: ModelEntry) -> ModelInfo:
        """OpenRouter lists what each model supports: parameters, context length, input modalities."""
        parameters = set(entry.supported_parameters or ())
        modalities = (entry.architecture or {}).get("input_modalities") or ()
        capabilities = Capabilities(
            tools="tools" in parameters,
            streaming=True,
            json_schema="structured_outputs" in parameters or "response_format" in parameters,
            vision="image" in modalities,
        )
        known = entry.supported_parameters is not None
        return ModelInfo(
            id=entry.id,
            created=entry.created,
            owned_by=self.name,
            context_length=entry.context_length,
            capabilities=capabilities if known else None,
        )


def _carries_reasoning(message: Message) -> bool:
    return isinstance(message, AssistantMessage) and bool(message.reasoning_content)


def _as_reasoning(message: dict[str, msgspec.Raw]) -> None:
    message.setdefault("reasoning", message.pop("reasoning_content"))
