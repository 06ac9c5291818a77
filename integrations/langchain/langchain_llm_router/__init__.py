"""LangChain integration for llm-router, the OpenAI-compatible routing server.

Exposes `ChatLLMRouter`, a LangChain chat model that talks to a running router
over HTTP, and the errors it raises.
"""

from __future__ import annotations

from langchain_llm_router._version import __version__
from langchain_llm_router.chat_models import DEFAULT_BASE_URL, ChatLLMRouter
from langchain_llm_router.errors import (
    LLMRouterAPIError,
    LLMRouterAuthenticationError,
    LLMRouterConflictError,
    LLMRouterConnectionError,
    LLMRouterContextOverflowError,
    LLMRouterError,
    LLMRouterInvalidRequestError,
    LLMRouterNotFoundError,
    LLMRouterPermissionDeniedError,
    LLMRouterRateLimitError,
    LLMRouterTimeoutError,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "ChatLLMRouter",
    "LLMRouterAPIError",
    "LLMRouterAuthenticationError",
    "LLMRouterConflictError",
    "LLMRouterConnectionError",
    "LLMRouterContextOverflowError",
    "LLMRouterError",
    "LLMRouterInvalidRequestError",
    "LLMRouterNotFoundError",
    "LLMRouterPermissionDeniedError",
    "LLMRouterRateLimitError",
    "LLMRouterTimeoutError",
    "__version__",
]
