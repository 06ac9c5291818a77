"""The router's error types, each carrying the OpenAI error envelope a client should see.

    RouterError                     anything that ends a request with an error response
    ├── InvalidRequest              400  the client's request is malformed (names the field in `param`)
    │   ├── InvalidToolDefinition   400  a toolset definition is invalid (its field in `param`)
    │   ├── InvalidAgentDefinition  400  an agent definition is invalid (its field in `param`)
    │   └── InvalidToolArguments    400  a tool's arguments do not match its schema (`arguments.<field>`)
    ├── InvalidAPIKey               401  a client or admin key is required and the request has none of them
    ├── PermissionDenied            403  the key is known but may not do this
    │   ├── ModelNotAllowed         403  the client's key may not use the model it asked for
    │   └── AdminDisabled           403  the admin endpoints are off (no admin key is configured)
    ├── NotFound                    404  nothing answers to that name
    │   ├── ModelNotFound           404  no provider or model answers to that name
    │   ├── ResponseNotFound        404  no stored response has that id (for this client)
    │   ├── ToolNotFound            404  no tool or toolset of that name that this client may see
    │   ├── AgentNotFound           404  no agent of that name (the admin API)
    │   └── RouteNotFound           404  no endpoint at that URL
    ├── MethodNotAllowed            405  the endpoint exists, not with that method
    ├── RequestTimeout              408  the body did not arrive within the configured time
    ├── ToolsetConflict             409  a toolset of that name exists, or comes from the config file
    ├── AgentConflict               409  the name is an agent's or an alias's, or the agent is the config file's
    ├── RequestTooLarge             413  the body is over the configured limit
    ├── ClientRateLimited           429  the client's key is over its requests or tokens per minute
    ├── ToolRateLimited             429  a tool is over its calls per minute (with Retry-After)
    ├── ClientClosedRequest         499  the client went away before its answer (nobody reads this one)
    ├── InternalError               500  the router itself failed (logged with its traceback, never shown)
    ├── ProviderNotConfigured       503  the provider exists but the router has no key for it
    ├── RouterOverloaded            503  the worker serves as many requests at once as it is allowed
    ├── ToolError                   502  the router got no usable answer from a tool; subclasses say how
    │   ├── ToolUnreachable         502  could not connect (a refused address included), or it broke
    │   ├── ToolInvalidResponse     502  the answer is not the tool's protocol, or not its `returns` schema
    │   └── ToolTimeout             504  no answer within the tool's timeout or the request's deadline
    └── UpstreamError               502  an upstream failed; subclasses say how
        ├── UpstreamRejected        4xx  the upstream refused the client's request (status passed on)
        │   └── UpstreamCannotServe 4xx  this target cannot take this request (no such model here, no
        │                                endpoint with tool support, context too long): try another
        ├── UpstreamRateLimited     429  (with Retry-After when the upstream gave one)
        ├── UpstreamAuthFailed      502  the upstream refused the router's own provider key
        ├── UpstreamUnavailable     503  overloaded, or no capacity for this request
        │   ├── UpstreamPaymentRequired  503  no credit left on the router's account
        │   └── TargetUnavailable   503  the router did not try a target: its circuit is open, it is rate
        │                                limited, or it is at its `max_concurrent`
        ├── UpstreamTimeout         504
        ├── UpstreamConnectionError 502  could not connect, or the connection broke
        ├── UpstreamProtocolError   502  the upstream answered with something that is not its API
        │   └── UpstreamResponseTooLarge 502  an answer, or one stream event, over the provider's size limit
        └── InvalidToolCall         502  the tool-call guard refused a model's tool call (a tool not offered,
                                         or arguments that are not valid for it)

Adapters raise these; the routing layer reads `retryable`; `app.errors` renders every one of them, for
every endpoint, the same way. Messages must never contain a secret: `providers.transport` scrubs the
provider's key from every byte an upstream sends, where it enters, so upstream text reaches them clean;
tool errors never quote a tool's headers.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AdminDisabled",
    "AgentConflict",
    "AgentNotFound",
    "ClientClosedRequest",
    "ClientRateLimited",
    "InternalError",
    "InvalidAPIKey",
    "InvalidAgentDefinition",
    "InvalidRequest",
    "InvalidToolArguments",
    "InvalidToolCall",
    "InvalidToolDefinition",
    "MethodNotAllowed",
    "ModelNotAllowed",
    "ModelNotFound",
    "NotFound",
    "PermissionDenied",
    "ProviderNotConfigured",
    "RequestTimeout",
    "RequestTooLarge",
    "ResponseNotFound",
    "RouteNotFound",
    "RouterError",
    "RouterOverloaded",
    "TargetUnavailable",
    "ToolError",
    "ToolInvalidResponse",
    "ToolNotFound",
    "ToolRateLimited",
    "ToolTimeout",
    "ToolUnreachable",
    "ToolsetConflict",
    "UpstreamAuthFailed",
    "UpstreamCannotServe",
    "UpstreamConnectionError",
    "UpstreamError",
    "UpstreamPaymentRequired",
    "UpstreamProtocolError",
    "UpstreamRateLimited",
    "UpstreamRejected",
    "UpstreamResponseTooLarge",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class RouterError(Exception):
    """An error that ends a request, rendered in OpenAI's error envelope."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None
    # Whether a client may usefully send the same request again (OpenAI SDKs read `x-should-retry`).
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.http_status = status if status is not None else self.status
        self.retry_after = retry_after


class InvalidRequest(RouterError):
    status = 400
    type = "invalid_request_error"
    default_code = "invalid_request"


class InvalidAPIKey(RouterError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(RouterError):
    status = 403
    type = "permission_error"
    default_code = "permission_denied"


class ModelNotAllowed(PermissionDenied):
    default_code = "model_not_allowed"


class AdminDisabled(PermissionDenied):
    default_code = "admin_disabled"


class NotFound(RouterError):
    status = 404
    type = "invalid_request_error"
    default_code = "not_found"


class ModelNotFound(NotFound):
    default_code = "model_not_found"


class ResponseNotFound(NotFound):
    pass


class RouteNotFound(NotFound):
    pass


class MethodNotAllowed(RouterError):
    status = 405
    type = "invalid_request_error"
    default_code = "method_not_allowed"


class RequestTimeout(RouterError):
    status = 408
    type = "invalid_request_error"
    default_code = "request_timeout"


class RequestTooLarge(RouterError):
    status = 413
    type = "invalid_request_error"
    default_code = "request_too_large"


class ClientRateLimited(RouterError):
    """The router's own limit for a client key; the client should wait `retry_after` seconds."""

    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"
    retryable = True


class ClientClosedRequest(RouterError):
    """The client disconnected before its answer: what the request log says (nginx's 499), not a failure."""

    status = 499
    type = "invalid_request_error"
    default_code = "client_closed_request"


class InternalError(RouterError):
    """The router failed in a way it did not expect; the cause is logged, never shown to the client."""

    status = 500
    type = "server_error"
    default_code = "internal_error"
    retryable = True


class ProviderNotConfigured(RouterError):
    status = 503
    type = "server_error"
    default_code = "provider_not_configured"


class InvalidToolDefinition(InvalidRequest):
    default_code = "invalid_tool_definition"


class InvalidToolArguments(InvalidRequest):
    default_code = "invalid_tool_arguments"


class ToolNotFound(NotFound):
    default_code = "tool_not_found"


class ToolsetConflict(RouterError):
    status = 409
    type = "invalid_request_error"
    default_code = "toolset_exists"


class InvalidAgentDefinition(InvalidRequest):
    default_code = "invalid_agent_definition"


class AgentNotFound(NotFound):
    default_code = "agent_not_found"


class AgentConflict(RouterError):
    status = 409
    type = "invalid_request_error"
    default_code = "agent_exists"


class ToolRateLimited(RouterError):
    """A tool's own calls-per-minute limit; the caller should wait `retry_after` seconds."""

    status = 429
    type = "rate_limit_error"
    default_code = "tool_rate_limited"
    retryable = True


class ToolError(RouterError):
    """The router's side of a tool call failed: no answer, or one it cannot use."""

    status = 502
    type = "server_error"
    default_code = "tool_error"
    retryable = True


class ToolUnreachable(ToolError):
    default_code = "tool_unreachable"


class ToolInvalidResponse(ToolError):
    default_code = "tool_invalid_response"
    retryable = False


class ToolTimeout(ToolError):
    status = 504
    type = "timeout_error"
    default_code = "tool_timeout"


class RouterOverloaded(RouterError):
    """This worker is serving as many requests as it may; another attempt shortly may find room."""

    status = 503
    type = "server_error"
    default_code = "server_overloaded"
    retryable = True


class UpstreamError(RouterError):
    """An upstream provider failed to produce an answer."""

    status = 502
    type = "server_error"
    default_code = "upstream_error"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        code: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status, retry_after=retry_after)
        self.provider = provider


class UpstreamRejected(UpstreamError):
    """The upstream judged the client's request invalid; its status (400, 404, 413, 422...) is passed on."""

    status = 400
    type = "invalid_request_error"
    default_code = "invalid_request"
    retryable = False


class UpstreamCannotServe(UpstreamRejected):
    """The request is fine but this target cannot serve it; another target may."""

    default_code = "model_cannot_serve"


class UpstreamRateLimited(UpstreamError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class UpstreamAuthFailed(UpstreamError):
    status = 502
    type = "server_error"
    default_code = "upstream_authentication_failed"
    retryable = False


class UpstreamUnavailable(UpstreamError):
    status = 503
    default_code = "upstream_unavailable"


class UpstreamPaymentRequired(UpstreamUnavailable):
    """The router's account with the upstream has no credit left: retrying will not help, another target may."""

    default_code = "upstream_payment_required"
    retryable = False


class TargetUnavailable(UpstreamUnavailable):
    """The router did not try a target: its circuit is open, it is rate limited, or it is at its limit."""

    default_code = "target_unavailable"


class UpstreamTimeout(UpstreamError):
    status = 504
    type = "timeout_error"
    default_code = "upstream_timeout"


class UpstreamConnectionError(UpstreamError):
    default_code = "upstream_connection_error"


class UpstreamProtocolError(UpstreamError):
    default_code = "upstream_invalid_response"


class UpstreamResponseTooLarge(UpstreamProtocolError):
    """An answer outgrew a limit the provider's settings set: another target may answer, this one will not."""

    default_code = "upstream_response_too_large"
    retryable = False


class InvalidToolCall(UpstreamError):
    """A model called a tool that was not offered, or with arguments that are not valid for it."""

    default_code = "invalid_tool_call"
