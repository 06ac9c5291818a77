"""The `ChatLLMRouter` chat model.

Owns the LangChain-facing surface of the package: configuration, assembly of
the request body, the four generation hooks (``_generate``, ``_agenerate``,
``_stream``, ``_astream``) over httpx, ``bind_tools`` and
``with_structured_output``. The wire formats are delegated to the private
modules: ``_messages`` (requests), ``_responses`` (responses), ``_sse`` and
``_http`` (transport) and ``_tools`` (tool and schema fields).
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal, cast

import httpx
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.language_models.chat_models import (
    agenerate_from_stream,
    generate_from_stream,
)
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.runnables import RunnableMap, RunnablePassthrough
from langchain_core.utils import from_env, secret_from_env
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import AliasChoices, ConfigDict, Field, SecretStr, model_validator

from langchain_llm_router import _http
from langchain_llm_router._messages import message_to_dict
from langchain_llm_router._responses import (
    MODEL_PROVIDER,
    StreamAssembler,
    completion_to_result,
    parse_stream_event,
)
from langchain_llm_router._sse import aiter_sse_data, iter_sse_data
from langchain_llm_router._tools import (
    ToolChoice,
    json_schema_response_format,
    resolve_tool_choice,
)
from langchain_llm_router._version import __version__
from langchain_llm_router.errors import LLMRouterAPIError, LLMRouterConnectionError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Sequence
    from typing import Self

    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )
    from langchain_core.language_models import LanguageModelInput
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.outputs import ChatGenerationChunk, ChatResult
    from langchain_core.runnables import Runnable
    from langchain_core.tools import BaseTool
    from pydantic import BaseModel

__all__ = ["DEFAULT_BASE_URL", "ChatLLMRouter"]

DEFAULT_BASE_URL = "http://127.0.0.1:8080/v1"
"""Where a locally started ``llm-router serve`` listens by default."""

StructuredOutputMethod = Literal["function_calling", "json_schema", "json_mode"]

# Fields sent in the request body under their own names when set.
_BODY_FIELDS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "seed",
    "n",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "reasoning_effort",
)

# Body fields with a parameter of their own (or filled in by the model). Setting
# them through model_kwargs too would leave two competing sources of one value.
# Other LangChain fields (``metadata``, ``tags``, ...) never reach the body, so
# a body field of the same name is fine in model_kwargs.
_MANAGED_BODY_FIELDS = frozenset(
    {
        *_BODY_FIELDS,
        "model",
        "model_name",
        "stop",
        "stop_sequences",
        "messages",
        "stream",
    }
)


class ChatLLMRouter(BaseChatModel):
    """Chat model served by an llm-router instance over its OpenAI-compatible API.

    Setup:
        Start a router (``llm-router serve``) and point ``base_url`` at its
        ``/v1`` prefix, or set ``LLM_ROUTER_BASE_URL``. Set ``api_key`` (or
        ``LLM_ROUTER_API_KEY``) if the router requires one.

    Example:
        ```python
        from langchain_llm_router import ChatLLMRouter

        model = ChatLLMRouter(model="deepseek/deepseek-chat", temperature=0)
        model.invoke("Say hello")
        ```

    Model ids are whatever the router routes, typically ``provider/model``.
    Requests are retried ``max_retries`` times on rate limits, timeouts,
    connection failures and HTTP 408/409/5xx, waiting as long as the server's
    ``Retry-After`` asks (up to a minute) or with exponential back-off; a
    response with ``x-should-retry: false`` is never retried. Failures raise
    subclasses of `langchain_llm_router.errors.LLMRouterError`, which are also
    the matching ``langchain_core.exceptions`` types.
    """

    # validation_alias, not alias: type checkers then know the parameter as
    # ``model``, while ``model_name`` (langchain-openai's spelling) still works.
    model: str = Field(validation_alias=AliasChoices("model", "model_name"))
    """Model id as the router knows it, e.g. ``"openrouter/openai/gpt-4o"``."""

    base_url: str = Field(
        default_factory=from_env("LLM_ROUTER_BASE_URL", default=DEFAULT_BASE_URL)
    )
    """The router's ``/v1`` URL, as ``base_url`` for ``ChatOpenAI``.

    Defaults to ``LLM_ROUTER_BASE_URL``, else `DEFAULT_BASE_URL`."""

    api_key: SecretStr | None = Field(
        default_factory=secret_from_env("LLM_ROUTER_API_KEY", default=None)
    )
    """Bearer token for the router; defaults to ``LLM_ROUTER_API_KEY``. Without
    one, no ``Authorization`` header is sent."""

    default_headers: dict[str, str] | None = None
    """Extra HTTP headers sent with every request."""

    timeout: float | None = Field(default=600.0, gt=0)
    """Seconds allowed to connect, and between bytes received; ``None`` waits
    forever. Streams are not cut short as long as tokens keep arriving."""

    max_retries: int = Field(default=2, ge=0)
    """Retries after a retryable failure; 0 disables retrying."""

    streaming: bool = False
    """Whether ``invoke`` streams under the hood (callbacks then see tokens)."""

    stream_usage: bool = True
    """Whether streamed responses report token usage (on their last chunk)."""

    temperature: float | None = None
    """Sampling temperature."""

    top_p: float | None = None
    """Nucleus sampling probability mass."""

    max_tokens: int | None = None
    """Maximum tokens to generate, sent as ``max_tokens``."""

    max_completion_tokens: int | None = None
    """Maximum tokens to generate including reasoning, sent as
    ``max_completion_tokens`` (the newer OpenAI name)."""

    stop: list[str] | str | None = Field(
        default=None, validation_alias=AliasChoices("stop", "stop_sequences")
    )
    """Sequences at which generation stops."""

    seed: int | None = None
    """Seed for best-effort deterministic sampling."""

    n: int | None = Field(default=None, ge=1)
    """Number of choices to generate; more than one cannot be streamed."""

    frequency_penalty: float | None = None
    """Penalty on tokens in proportion to how often they already appeared."""

    presence_penalty: float | None = None
    """Penalty on tokens that already appeared at all."""

    logit_bias: dict[int, int] | None = None
    """Bias added to the logits of the given token ids."""

    logprobs: bool | None = None
    """Whether to return log probabilities (in ``response_metadata``)."""

    top_logprobs: int | None = None
    """How many most likely tokens to report at each position with logprobs."""

    reasoning_effort: str | None = None
    """Reasoning effort for reasoning models, e.g. ``"low"`` or ``"high"``."""

    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra fields merged into the request body, for parameters without a
    field of their own (e.g. ``{"response_format": {"type": "json_object"}}``)."""

    http_client: httpx.Client | None = Field(default=None, exclude=True)
    """Client for synchronous calls, e.g. with a custom transport. The caller
    keeps ownership. By default a process-wide pooled client is used."""

    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True)
    """Client for asynchronous calls; the caller keeps ownership. By default
    each call opens (and closes) its own client, because a pooled async client
    cannot safely outlive the event loop it was first used on."""

    model_config = ConfigDict(
        populate_by_name=True,
        arbitrary_types_allowed=True,
        # A misspelt parameter must fail loudly, not be silently ignored.
        extra="forbid",
        protected_namespaces=(),
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        if clashing := sorted(_MANAGED_BODY_FIELDS.intersection(self.model_kwargs)):
            msg = (
                f"model_kwargs may not set {clashing}: pass them as parameters of "
                "the model (messages and stream are set by the model itself)."
            )
            raise ValueError(msg)
        if self.streaming and (self.n or 1) > 1:
            msg = "n > 1 cannot be combined with streaming=True."
            raise ValueError(msg)
        return self

    # -- LangChain metadata ---------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "llm-router-chat"

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """Instances can be serialized with ``langchain_core.load.dumpd``."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """Module path under which serialized instances are found again."""
        return ["langchain_llm_router", "chat_models"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Serialize the API key as a reference to its environment variable."""
        return {"api_key": "LLM_ROUTER_API_KEY"}

    @property
    def _default_params(self) -> dict[str, Any]:
        """Body fields implied by the configuration, before per-call overrides."""
        params = {
            name: value
            for name in _BODY_FIELDS
            if (value := getattr(self, name)) is not None
        }
        return {**params, **self.model_kwargs}

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": self.base_url, **self._default_params}

    def _get_ls_params(
        self, stop: list[str] | None = None, **kwargs: Any
    ) -> LangSmithParams:
        params = self._get_invocation_params(stop=stop, **kwargs)
        ls_params = LangSmithParams(
            ls_provider=MODEL_PROVIDER,
            ls_model_name=params.get("model", self.model),
            ls_model_type="chat",
        )
        if (temperature := params.get("temperature")) is not None:
            ls_params["ls_temperature"] = temperature
        max_tokens = params.get("max_completion_tokens") or params.get("max_tokens")
        if max_tokens:
            ls_params["ls_max_tokens"] = max_tokens
        if ls_stop := stop or params.get("stop") or self.stop:
            ls_params["ls_stop"] = [ls_stop] if isinstance(ls_stop, str) else ls_stop
        return ls_params

    def _combine_llm_outputs(
        self, llm_outputs: list[dict[str, Any] | None]
    ) -> dict[str, Any]:
        token_usage: dict[str, int] = {}
        model_name = None
        for output in llm_outputs:
            if not output:
                continue
            model_name = model_name or output.get("model_name")
            for key, value in (output.get("token_usage") or {}).items():
                # Nested detail objects are summarised by usage_metadata instead.
                if isinstance(value, int):
                    token_usage[key] = token_usage.get(key, 0) + value
        return {"token_usage": token_usage, "model_name": model_name}

    # -- Generation -----------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            return generate_from_stream(
                self._stream(messages, stop=stop, run_manager=run_manager, **kwargs)
            )
        payload = self._payload(messages, stop, stream=False, **kwargs)
        client = self.http_client or _http.default_sync_client()
        response = _http.send(
            client, self._request(client, payload), self._retry_policy, stream=False
        )
        return completion_to_result(_json_body(response))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            return await agenerate_from_stream(
                self._astream(messages, stop=stop, run_manager=run_manager, **kwargs)
            )
        payload = self._payload(messages, stop, stream=False, **kwargs)
        async with self._async_client() as client:
            response = await _http.asend(
                client, self._request(client, payload), self._retry_policy, stream=False
            )
        return completion_to_result(_json_body(response))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        *,
        stream_usage: bool | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        payload = self._payload(
            messages, stop, stream=True, stream_usage=stream_usage, **kwargs
        )
        client = self.http_client or _http.default_sync_client()
        request = self._request(client, payload)
        assembler = StreamAssembler()
        response = _http.send(client, request, self._retry_policy, stream=True)
        try:
            for data in iter_sse_data(_http.iter_lines(response)):
                if (event := parse_stream_event(data)) is None:
                    break
                if (chunk := assembler.add(event)) is not None:
                    if run_manager:
                        run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
            else:
                raise _truncated_stream_error()
        finally:
            response.close()
        final = assembler.final_chunk()
        if run_manager:
            run_manager.on_llm_new_token(final.text, chunk=final)
        yield final

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        *,
        stream_usage: bool | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        payload = self._payload(
            messages, stop, stream=True, stream_usage=stream_usage, **kwargs
        )
        assembler = StreamAssembler()
        async with self._async_client() as client:
            request = self._request(client, payload)
            response = await _http.asend(
                client, request, self._retry_policy, stream=True
            )
            try:
                async for data in aiter_sse_data(_http.aiter_lines(response)):
                    if (event := parse_stream_event(data)) is None:
                        break
                    if (chunk := assembler.add(event)) is not None:
                        if run_manager:
                            await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                        yield chunk
                else:
                    raise _truncated_stream_error()
            finally:
                await response.aclose()
        final = assembler.final_chunk()
        if run_manager:
            await run_manager.on_llm_new_token(final.text, chunk=final)
        yield final

    # -- Tools and structured output -----------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: ToolChoice = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools, in any form ``convert_to_openai_tool`` accepts.

        Args:
            tools: Tools the model may call.
            tool_choice: ``"auto"``, ``"none"``, ``"required"``, ``"any"`` or
                ``True`` (both meaning ``"required"``), the name of one of
                ``tools`` to force it, or a raw OpenAI ``tool_choice`` dict.
            strict: Ask for arguments that match the tools' schemas exactly
                (OpenAI structured outputs); ``None`` leaves it unset.
            parallel_tool_calls: ``False`` asks for at most one call per turn.
            **kwargs: Other request fields to bind.
        """
        formatted = [convert_to_openai_tool(tool, strict=strict) for tool in tools]
        names = [tool["function"]["name"] for tool in formatted if "function" in tool]
        if (choice := resolve_tool_choice(tool_choice, names)) is not None:
            kwargs["tool_choice"] = choice
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: StructuredOutputMethod = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Return a runnable whose output follows ``schema``.

        Args:
            schema: A pydantic class (outputs are instances of it), a
                ``TypedDict``, a JSON schema or an OpenAI tool definition
                (outputs are dicts). Optional only for ``json_mode``.
            method: How the model is steered:

                - ``"function_calling"`` (default): the schema becomes a tool the
                  model is forced to call. Works with every upstream that
                  supports tools, which is most of what a router fronts.
                - ``"json_schema"``: ``response_format`` of type ``json_schema``
                  (OpenAI structured outputs); needs upstream support.
                - ``"json_mode"``: ``response_format`` of type ``json_object``;
                  the prompt must describe the expected keys.
            include_raw: If true, return ``{"raw", "parsed", "parsing_error"}``
                and report parsing failures there instead of raising.
            strict: Ask for output that matches the schema exactly.
            **kwargs: Not supported; present to reject misspelt options.

        Raises:
            ValueError: For an unknown ``method``, a missing ``schema`` or
                unexpected keyword arguments.
        """
        if kwargs:
            msg = f"Received unsupported arguments {kwargs}"
            raise ValueError(msg)
        if schema is None and method != "json_mode":
            msg = f"method={method!r} needs a schema."
            raise ValueError(msg)
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        ls_format: dict[str, Any] = {
            "kwargs": {"method": method, "strict": strict},
            "schema": schema,
        }
        llm: Runnable[LanguageModelInput, AIMessage]
        parser: Runnable[Any, Any]
        if method == "function_calling":
            assert schema is not None  # noqa: S101 - checked above; narrows for mypy
            tool_name = convert_to_openai_tool(schema)["function"]["name"]
            llm = self.bind_tools(
                [schema],
                tool_choice=tool_name,
                strict=strict,
                # One schema, one answer: a second call would be ambiguous.
                parallel_tool_calls=False,
                ls_structured_output_format=ls_format,
            )
            parser = (
                PydanticToolsParser(
                    tools=[cast("type[BaseModel]", schema)], first_tool_only=True
                )
                if is_pydantic
                else JsonOutputKeyToolsParser(key_name=tool_name, first_tool_only=True)
            )
        elif method in ("json_schema", "json_mode"):
            if method == "json_schema":
                assert schema is not None  # noqa: S101 - checked above; narrows for mypy
                response_format = json_schema_response_format(schema, strict=strict)
            else:
                response_format = {"type": "json_object"}
            bound: dict[str, Any] = {"response_format": response_format}
            if schema is not None:
                bound["ls_structured_output_format"] = ls_format
            llm = self.bind(**bound)
            parser = (
                PydanticOutputParser(pydantic_object=cast("type[BaseModel]", schema))
                if is_pydantic
                else JsonOutputParser()
            )
        else:
            msg = (
                "method must be 'function_calling', 'json_schema' or 'json_mode', "
                f"not {method!r}"
            )
            raise ValueError(msg)
        if not include_raw:
            return llm | parser
        parse_or_report = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        ).with_fallbacks(
            [RunnablePassthrough.assign(parsed=lambda _: None)],
            exception_key="parsing_error",
        )
        return RunnableMap(raw=llm) | parse_or_report

    # -- Request assembly -----------------------------------------------------

    @property
    def _retry_policy(self) -> _http.RetryPolicy:
        return _http.RetryPolicy(max_retries=self.max_retries)

    def _payload(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        *,
        stream: bool,
        stream_usage: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The request body: configuration, then per-call overrides."""
        payload: dict[str, Any] = {
            "model": self.model,
            **self._default_params,
            **kwargs,
        }
        if stop_sequences := stop if stop is not None else self.stop:
            payload["stop"] = stop_sequences
        payload["messages"] = [message_to_dict(message) for message in messages]
        if stream:
            if (payload.get("n") or 1) > 1:
                msg = "n > 1 cannot be streamed."
                raise ValueError(msg)
            payload["stream"] = True
            if self.stream_usage if stream_usage is None else stream_usage:
                payload["stream_options"] = {
                    **payload.get("stream_options", {}),
                    "include_usage": True,
                }
        return payload

    def _request(
        self, client: httpx.Client | httpx.AsyncClient, payload: dict[str, Any]
    ) -> httpx.Request:
        accept = "text/event-stream" if payload.get("stream") else "application/json"
        headers = {
            "Content-Type": "application/json",
            "Accept": accept,
            "User-Agent": f"langchain-llm-router/{__version__}",
        }
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        headers.update(self.default_headers or {})
        return client.build_request(
            "POST",
            f"{self.base_url.rstrip('/')}/chat/completions",
            # ensure_ascii=False: send text as UTF-8 rather than \u escapes.
            content=json.dumps(payload, ensure_ascii=False).encode(),
            headers=headers,
            timeout=httpx.Timeout(self.timeout),
        )

    @asynccontextmanager
    async def _async_client(self) -> AsyncIterator[httpx.AsyncClient]:
        if self.http_async_client is not None:
            yield self.http_async_client
            return
        async with httpx.AsyncClient() as client:
            yield client


def _json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        msg = f"the router's response is not JSON: {response.text[:200]!r}"
        raise LLMRouterAPIError(msg, status_code=response.status_code) from exc
    if not isinstance(body, dict):
        msg = f"the router's response is not a JSON object: {response.text[:200]!r}"
        raise LLMRouterAPIError(msg, status_code=response.status_code)
    return body


def _truncated_stream_error() -> LLMRouterConnectionError:
    # Without [DONE] there is no telling whether the answer is complete, and a
    # silently truncated answer is worse than an error.
    return LLMRouterConnectionError("the stream ended before data: [DONE]")
