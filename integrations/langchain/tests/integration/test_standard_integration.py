"""LangChain's standard integration tests, against a real router's mock models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_llm_router import ChatLLMRouter

if TYPE_CHECKING:
    from llm_router_process import RunningRouter

pytestmark = pytest.mark.integration


class TestChatLLMRouterIntegration(ChatModelIntegrationTests):
    @pytest.fixture(autouse=True)
    def _point_at_router(self, router: RunningRouter) -> None:
        # The standard suite builds models from chat_model_params, a property;
        # the running router's URL reaches it through the test instance.
        self.router_base_url = router.base_url

    @property
    def chat_model_class(self) -> type[ChatLLMRouter]:
        return ChatLLMRouter

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "mock/tool", "base_url": self.router_base_url}

    @property
    def model_override_value(self) -> str:
        return "mock/text"

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        # Histories produced by Anthropic models (tool_use and thinking blocks,
        # cache_control on text) are translated to OpenAI messages.
        return True
