"""A Responses request's `mcp` tools, resolved against the tool registry: the tools the router runs for it.

OpenAI's `mcp` tool names a remote MCP server. Here `server_label` names a toolset of the router's registry,
of any kind (http, openapi or mcp), and the router is the client that calls it:

    server_label        the toolset; its tools are listed and called under their own server's names
                        (`add`), while the model calls them by their registry names (`calc_add`)
    server_url          optional; accepted only when it matches a pattern of `[tools] mcp_server_urls` and is
                        the toolset's own `url`, so it can only confirm which server the label means: the
                        router never connects to a URL a client sends
    headers, authorization
                        sent with that toolset's calls (`authorization` as a Bearer token), in this request
                        only, and never echoed back
    server_description  told to the model, in a system message
    allowed_tools       the tools offered: a list of names, or {"tool_names", "read_only"} (both must hold;
                        `read_only` means MCP's `readOnlyHint` annotation, where the toolset has one)
    require_approval    "always" (the default, as at OpenAI), "never", or {"always": filter, "never": filter}:
                        a tool `always` selects waits for the client's approval, one `never` selects does
                        not, and any other does unless the object sets only `always`

A client key must be allowed every tool offered this way: a toolset none of whose tools the key may use is
as unknown as one that does not exist, and one with some the key may not use is a 403 (list the others in
`allowed_tools`). A server's tools are listed once per conversation (an `mcp_list_tools` item), as at
OpenAI: a conversation that already lists them does not list them again.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from msgspec import UNSET, UnsetType

from app.agents.toolbox import ApprovedCall, Toolbox, ToolUse
from app.responses.items import MCPListedTool, MCPListTools
from app.responses.wire import MCPApprovalFilter, MCPTool, MCPToolFilter, new_id
from app.tools.definitions import MCPToolset
from app.tools.names import local_names, public_name
from providers.errors import InvalidRequest, PermissionDenied
from providers.schema import AllowedTools, AllowedToolsChoice, NamedToolChoice, ToolNameRef

if TYPE_CHECKING:
    from collections.abc import Iterable

    from app.access.keys import ClientKey
    from app.responses.decode import ResponsesRequest
    from app.responses.items import InputItem
    from app.responses.to_chat import Approval
    from app.responses.wire import ToolChoiceMCP
    from app.tools.registry import ToolRegistry
    from app.tools.toolsets import Tool, Toolset
    from providers.schema import ToolChoice as ChatToolChoice

__all__ = ["RequestServers", "request_servers"]

# RFC 9110's token: what a header name may be made of.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_FORBIDDEN_VALUE = re.compile(r"[\r\n\x00]")
# Headers that say how a request is framed, routed or spoken (MCP's own included): the router sets them.
_RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "accept",
        "accept-encoding",
    }
)
_RESERVED_PREFIXES = ("mcp-", "proxy-")


@dataclass(frozen=True, slots=True)
class _Server:
    """One `mcp` tool of the request, resolved."""

    label: str
    toolset: Toolset
    uses: list[ToolUse]
    description: str | None
    where: str


@dataclass(frozen=True, slots=True)
class RequestServers:
    """The registry toolsets a request's `mcp` tools name, and what the router runs for it."""

    registry: ToolRegistry
    servers: list[_Server]
    _by_label: dict[str, _Server] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_label", {server.label: server for server in self.servers})

    # ------------------------------------------------------------------------- naming (`to_chat.ServerTools`)

    def function_name(self, server_label: str, name: str) -> str:
        """The registry's name for a server's tool: what the model calls it, in this turn and earlier ones."""
        toolset = next((each for each in self.registry.toolsets() if each.name == server_label), None)
        tool = toolset.by_server_name(name) if toolset is not None else None
        if tool is not None:
            return tool.name
        # A toolset since removed or changed: the name the registry would give the tool.
        return public_name(server_label, local_names(server_label, [name])[name])

    def tool_choice(self, choice: ToolChoiceMCP) -> ChatToolChoice:
        server = self._by_label[choice.server_label]  # decode_request checked that an `mcp` tool has it
        if choice.name is None:
            tools = [{"type": "function", "function": {"name": use.tool.name}} for use in server.uses]
            return AllowedToolsChoice(allowed_tools=AllowedTools(mode="required", tools=tools))
        use = next((use for use in server.uses if use.tool.server_name == choice.name), None)
        if use is None:
            raise InvalidRequest(
                f"`tool_choice` names the tool {choice.name!r}, which the server '{server.label}' does not offer "
                "to this request.",
                param="tool_choice.name",
                code="invalid_value",
            )
        return NamedToolChoice(function=ToolNameRef(name=use.tool.name))

    # ----------------------------------------------------------------------------------- running and listing

    def toolbox(self, approved: list[Approval]) -> Toolbox | None:
        """The tools the router runs for this request, and the calls it approves (None: no `mcp` tool)."""
        if not self.servers:
            if approved:
                raise InvalidRequest(
                    f"{approved[0].where} approves a call to the server '{approved[0].server_label}', but the "
                    "request has no `mcp` tool: send the `mcp` tool that offered the call again.",
                    param=approved[0].where,
                    code="invalid_value",
                )
            return None
        descriptions = [
            f"- {server.label}: {server.description}" for server in self.servers if server.description is not None
        ]
        instructions = "You can use the tools of these MCP servers:\n" + "\n".join(descriptions)
        return Toolbox(
            owner="the model",
            tools={use.tool.name: use for server in self.servers for use in server.uses},
            instructions=instructions if descriptions else None,
            source="responses",
            approved=tuple(self._approved(approval) for approval in approved),
        )

    def listings(self, conversation: Iterable[InputItem]) -> list[MCPListTools]:
        """`mcp_list_tools` items for the servers the conversation has not listed yet (or only with an error)."""
        listed = {item.server_label for item in conversation if isinstance(item, MCPListTools) and not item.error}
        return [_listing(server) for server in self.servers if server.label not in listed]

    def _approved(self, approval: Approval) -> ApprovedCall:
        server = self._by_label.get(approval.server_label)
        use = next((use for use in server.uses if use.tool.server_name == approval.name), None) if server else None
        if use is None:
            raise InvalidRequest(
                f"{approval.where} approves a call to '{approval.name}' on the server '{approval.server_label}', "
                "which this request's `mcp` tools do not offer: send the `mcp` tool that offered it again.",
                param=approval.where,
                code="invalid_value",
            )
        return ApprovedCall(approval.approval_request_id, use.tool.name, approval.arguments)


def request_servers(request: ResponsesRequest, registry: ToolRegistry, client: ClientKey | None) -> RequestServers:
    """The request's `mcp` tools resolved against the registry (perhaps none), or the error that says which
    field is wrong."""
    servers = [
        _server(tool, f"tools[{index}]", registry, client)
        for index, tool in enumerate(request.tools)
        if isinstance(tool, MCPTool)
    ]
    runs = {use.tool.name for server in servers for use in server.uses}
    for index, tool in enumerate(request.tools):
        if not isinstance(tool, MCPTool) and tool.name in runs:
            raise InvalidRequest(
                f"The function '{tool.name}' has the name of a tool an `mcp` tool offers: give yours another name.",
                param=f"tools[{index}].name",
                code="invalid_value",
            )
    return RequestServers(registry, servers)


def _server(tool: MCPTool, where: str, registry: ToolRegistry, client: ClientKey | None) -> _Server:
    toolset = next((each for each in registry.toolsets() if each.name == tool.server_label), None)
    visible = (
        [each for each in toolset.tools.values() if client is None or client.allows_tool(each.name)] if toolset else []
    )
    if toolset is None or (client is not None and toolset.tools and not visible):
        raise InvalidRequest(
            f"There is no toolset named '{tool.server_label}' that this request may use: `server_label` names one "
            "of the router's toolsets (GET /v1/tools lists their tools).",
            param=f"{where}.server_label",
            code="invalid_value",
        )
    if tool.server_url is not UNSET:
        _check_url(tool.server_url, toolset, registry, where)
    headers = _headers(tool, where)
    offered = [each for each in toolset.tools.values() if _allowed(each, tool.allowed_tools)]
    for each in offered:
        if client is not None and not client.allows_tool(each.name):
            raise PermissionDenied(
                f"This API key may not use the tool '{each.name}' of the toolset '{toolset.name}': name the tools "
                "it may use in `allowed_tools`.",
                param=f"{where}.allowed_tools",
                code="tool_not_allowed",
            )
    uses = [ToolUse(each, toolset.name, headers, _needs_approval(each, tool)) for each in offered]
    description = tool.server_description if tool.server_description is not UNSET else None
    return _Server(toolset.name, toolset, uses, description, where)


def _check_url(url: str, toolset: Toolset, registry: ToolRegistry, where: str) -> None:
    if not any(fnmatch.fnmatchcase(url, pattern) for pattern in registry.settings.mcp_server_urls):
        raise InvalidRequest(
            f"The server_url {url!r} is not allowed: the router connects only to its registered toolsets, and "
            "accepts a server_url only when it matches `[tools] mcp_server_urls`. Leave it out to use the "
            f"toolset '{toolset.name}'.",
            param=f"{where}.server_url",
            code="invalid_value",
        )
    definition = toolset.definition
    if not isinstance(definition, MCPToolset) or definition.url.rstrip("/") != url.rstrip("/"):
        raise InvalidRequest(
            f"The server_url {url!r} is not the URL of the toolset '{toolset.name}': a server_url only confirms "
            "which registered MCP server the label names.",
            param=f"{where}.server_url",
            code="invalid_value",
        )


def _headers(tool: MCPTool, where: str) -> dict[str, str] | None:
    headers = dict(tool.headers or {})
    for name, value in headers.items():
        lowered = name.lower()
        if not _HEADER_NAME.match(name) or _FORBIDDEN_VALUE.search(value):
            raise InvalidRequest(
                f"The header {name!r} is not a valid HTTP header.", param=f"{where}.headers", code="invalid_value"
            )
        if lowered in _RESERVED_HEADERS or lowered.startswith(_RESERVED_PREFIXES):
            raise InvalidRequest(
                f"The header '{name}' is the router's to set.", param=f"{where}.headers", code="invalid_value"
            )
    if tool.authorization is not UNSET:
        if any(name.lower() == "authorization" for name in headers):
            raise InvalidRequest(
                "Send the token either as `authorization` or as an Authorization header, not both.",
                param=f"{where}.authorization",
                code="invalid_value",
            )
        if _FORBIDDEN_VALUE.search(tool.authorization):
            raise InvalidRequest(
                "`authorization` is not a valid token.", param=f"{where}.authorization", code="invalid_value"
            )
        headers["Authorization"] = f"Bearer {tool.authorization}"
    return headers or None


def _allowed(tool: Tool, allowed: list[str] | MCPToolFilter | UnsetType | None) -> bool:
    if isinstance(allowed, list):
        return tool.server_name in allowed
    if isinstance(allowed, MCPToolFilter):
        return _matches(tool, allowed)
    return True


def _needs_approval(tool: Tool, mcp: MCPTool) -> bool:
    policy = mcp.require_approval
    if not isinstance(policy, MCPApprovalFilter):
        return policy != "never"  # "always" is the default
    if policy.always is not UNSET and _matches(tool, policy.always):
        return True
    if policy.never is not UNSET and _matches(tool, policy.never):
        return False
    # Neither matches: the default, unless the object only says which tools always need approval.
    return policy.always is UNSET or policy.never is not UNSET


def _matches(tool: Tool, selection: MCPToolFilter) -> bool:
    """Whether a filter selects the tool: every condition it sets holds (one that sets none selects none)."""
    if selection.tool_names is UNSET and selection.read_only is UNSET:
        return False
    if selection.tool_names is not UNSET and tool.server_name not in selection.tool_names:
        return False
    read_only = bool((tool.spec.annotations or {}).get("readOnlyHint"))
    return selection.read_only is UNSET or selection.read_only == read_only


def _listing(server: _Server) -> MCPListTools:
    error = server.toolset.error if not server.toolset.tools else None
    tools = [
        MCPListedTool(
            name=use.tool.server_name,
            input_schema=use.tool.parameters,
            description=use.tool.description or None,
            annotations=use.tool.spec.annotations,
        )
        for use in server.uses
    ]
    return MCPListTools(id=new_id("mcpl"), server_label=server.label, tools=tools, error=error)
