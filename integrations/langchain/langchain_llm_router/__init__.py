"""LangChain integration for llm-router, the OpenAI-compatible routing server.

Exposes `ChatLLMRouter`, a LangChain chat model that talks to a running router
over HTTP, the errors it raises, and `load_router_tools`, the router's tool
registry as LangChain tools.
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
from langchain_llm_router.tools import aload_router_tools, load_router_tools

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
    "aload_router_tools",
    "load_router_tools",
]
