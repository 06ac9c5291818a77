"""The router's tool registry as LangChain tools.

`load_router_tools` lists the tools a router offers (``GET /v1/tools``; with
client keys configured, those the key may use) and makes each a LangChain
``StructuredTool`` whose schema is the registry's JSON Schema and whose call is
``POST /v1/tools/{name}/invoke`` on the router: the router validates the
arguments, calls the tool (HTTP, OpenAPI or MCP) with its timeout, retries and
limits, and logs the invocation. Hand the tools to a model with ``bind_tools``
and run them in any LangChain agent.

A tool that answers with an error (``is_error``), or arguments the tool's schema
refuses, raise ``ToolException``, which LangChain turns into the tool message
the model sees (``handle_tool_error`` is on). A failure on the router's side (an
unknown tool, a timeout, an unreachable tool) raises the package's usual
`LLMRouterError` subclasses.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from langchain_core.tools import StructuredTool, ToolException

from langchain_llm_router._error_mapping import (
    error_from_response,
    error_from_transport,
)
from langchain_llm_router.chat_models import DEFAULT_BASE_URL

__all__ = ["aload_router_tools", "load_router_tools"]

_DEFAULT_TIMEOUT = 60.0


def load_router_tools(
    base_url: str | None = None,
    *,
    api_key: str | None = None,
    names: list[str] | None = None,
    timeout: float = _DEFAULT_TIMEOUT,
) -> list[StructuredTool]:
    """LangChain tools for the router's registry tools (only `names`, if given).

    ``base_url`` and ``api_key`` default to ``LLM_ROUTER_BASE_URL`` and
    ``LLM_ROUTER_API_KEY``, as for `ChatLLMRouter`.
    """
    url, headers = _endpoint(base_url, api_key)
    try:
        response = httpx.get(f"{url}/tools", headers=headers, timeout=timeout)
    except httpx.TransportError as exc:
        raise error_from_transport(exc) from exc
    return _tools(response, url, headers, names, timeout)


async def aload_router_tools(
    base_url: str | None = None,
    *,
    api_key: str | None = None,
    names: list[str] | None = None,
    timeout: float = _DEFAULT_TIMEOUT,
) -> list[StructuredTool]:
    """Asynchronous twin of `load_router_tools`."""
    url, headers = _endpoint(base_url, api_key)
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(f"{url}/tools", headers=headers)
    except httpx.TransportError as exc:
        raise error_from_transport(exc) from exc
    return _tools(response, url, headers, names, timeout)


def _endpoint(base_url: str | None, api_key: str | None) -> tuple[str, dict[str, str]]:
    url = (
        base_url or os.environ.get("LLM_ROUTER_BASE_URL") or DEFAULT_BASE_URL
    ).rstrip("/")
    key = api_key or os.environ.get("LLM_ROUTER_API_KEY")
    return url, ({"Authorization": f"Bearer {key}"} if key else {})


def _tools(
    response: httpx.Response,
    url: str,
    headers: dict[str, str],
    names: list[str] | None,
    timeout: float,
) -> list[StructuredTool]:
    if not response.is_success:
        raise error_from_response(response)
    listed = response.json()["data"]
    if names is not None:
        missing = sorted(set(names) - {tool["name"] for tool in listed})
        if missing:
            raise ValueError(f"The router offers no tool named {', '.join(missing)}.")
        listed = [tool for tool in listed if tool["name"] in names]
    return [_tool(tool, url, headers, timeout) for tool in listed]


def _tool(
    described: dict[str, Any], url: str, headers: dict[str, str], timeout: float
) -> StructuredTool:
    name: str = described["name"]
    invoke_url = f"{url}/tools/{name}/invoke"

    def call(**arguments: Any) -> tuple[str, dict[str, Any]]:
        try:
            response = httpx.post(
                invoke_url,
                json={"arguments": arguments},
                headers=headers,
                timeout=timeout,
            )
        except httpx.TransportError as exc:
            raise error_from_transport(exc) from exc
        return _answer(response)

    async def acall(**arguments: Any) -> tuple[str, dict[str, Any]]:
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                response = await client.post(
                    invoke_url, json={"arguments": arguments}, headers=headers
                )
        except httpx.TransportError as exc:
            raise error_from_transport(exc) from exc
        return _answer(response)

    return StructuredTool(
        name=name,
        description=described.get("description") or name,
        args_schema=described.get("parameters") or {"type": "object", "properties": {}},
        func=call,
        coroutine=acall,
        response_format="content_and_artifact",
        handle_tool_error=True,
    )


def _answer(response: httpx.Response) -> tuple[str, dict[str, Any]]:
    """The text a model sees, and the whole result as the message's artifact."""
    if not response.is_success:
        error = error_from_response(response)
        if (
            error.code == "invalid_tool_arguments"
        ):  # the model's mistake: it should see it and try again
            raise ToolException(str(error.args[0] if error.args else error))
        raise error
    result: dict[str, Any] = response.json()
    text = "\n".join(
        item["text"]
        if item.get("type") == "text"
        else f"[{item.get('type')} {item.get('mime_type', '')}]".strip()
        for item in result.get("content", ())
    )
    if result.get("truncated"):
        text += "\n[output truncated]"
    if result.get("is_error"):
        raise ToolException(text or "The tool failed.")
    return text, result
