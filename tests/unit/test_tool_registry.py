"""The tool registry's domain without a server: names, definitions, the egress guard, results, a registry
invoking a tool on a loopback HTTP server, and the MCP server in front of it."""

from __future__ import annotations

import contextlib
import http.server
import ipaddress
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import msgspec
import pytest
import yaml
from aiohttp import web
from aiohttp.abc import AbstractResolver
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.access.limits import LocalRateLimiter
from app.records import MemoryRecordStore, SqliteRecordStore
from app.schemas import SchemaCompiler
from app.settings import ConfigError, ToolSettings
from app.tools.definitions import parse_definition
from app.tools.egress import AddressRefused, EgressClient, GuardedResolver, UrlRefused, check_url, refusal
from app.tools.invocations import LocalInvocationLog
from app.tools.mcp_server import MCPServer
from app.tools.names import local_names
from app.tools.registry import ToolRegistry
from app.tools.results import http_output
from providers.errors import InvalidToolArguments, InvalidToolDefinition, ToolNotFound, ToolUnreachable

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from aiohttp.abc import ResolveResult

    Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# ------------------------------------------------------------------------------------------------------ names

SCHEMAS = SchemaCompiler()
DESCRIPTION = Path(__file__).resolve().parents[2] / "app" / "openapi.yaml"


def test_valid_names_are_kept_and_others_made_valid_distinct_and_stable() -> None:
    names = local_names("calc", ["add", "get.user", "get_user", "a" * 80, "a" * 81, "weird name!"])
    assert names["add"] == "add"
    assert names["get_user"] == "get_user"  # valid as it is: it keeps its name
    assert names["get.user"].startswith("get_user_")
    assert len(names["get.user"]) == len("get_user_") + 6
    assert names["weird name!"] == "weird_name_"
    assert names["a" * 80] != names["a" * 81]
    for local in names.values():
        assert len(f"calc_{local}") <= 64
    # The same names in another order give the same result.
    assert local_names("calc", reversed(list(names))) == names


# ------------------------------------------------------------------------------------------------ definitions


def test_a_header_may_name_an_environment_variable_that_must_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    body = {
        "name": "t",
        "kind": "mcp",
        "url": "http://tools.example/mcp",
        "headers": {"Authorization": "Bearer ${TOKEN_X}"},
    }
    with pytest.raises(InvalidToolDefinition) as raised:
        parse_definition(body, allow_private_networks=True, schemas=SCHEMAS)
    assert raised.value.param == "headers.Authorization"
    monkeypatch.setenv("TOKEN_X", "secret")
    assert parse_definition(body, allow_private_networks=True, schemas=SCHEMAS).name == "t"


def test_two_inline_tools_may_not_share_a_name() -> None:
    tool = {"name": "same", "url": "http://tools.example/"}
    with pytest.raises(InvalidToolDefinition) as raised:
        parse_definition(
            {"name": "t", "kind": "http", "tools": [tool, tool]}, allow_private_networks=True, schemas=SCHEMAS
        )
    assert raised.value.param == "tools[1].name"


def test_an_http_toolset_needs_its_tools() -> None:
    for body in ({"name": "t", "kind": "http"}, {"name": "t", "kind": "http", "tools": []}):
        with pytest.raises(InvalidToolDefinition) as raised:
            parse_definition(body, allow_private_networks=True, schemas=SCHEMAS)
        assert raised.value.param == "tools"


@pytest.mark.parametrize(
    ("headers", "param"),
    [
        ({"\u00e9t\u00e9": "x"}, "headers.\u00e9t\u00e9"),
        ({"": "x"}, "headers."),
        ({"X Token": "x"}, "headers.X Token"),
        ({"X-Token": "secret\r\nX-Injected: yes"}, "headers.X-Token"),
        ({"X-Token": "caf\u00e9-secret"}, "headers.X-Token"),
    ],
)
def test_a_header_the_router_could_not_send_is_refused_naming_it(headers: dict[str, str], param: str) -> None:
    # Such a header used to pass, and then made every call (or the MCP server's discovery) fail with a 500.
    body = {"name": "t", "kind": "mcp", "url": "http://tools.example/mcp", "headers": headers}
    with pytest.raises(InvalidToolDefinition) as raised:
        parse_definition(body, allow_private_networks=True, schemas=SCHEMAS)
    assert raised.value.param == param
    assert "secret" not in raised.value.message
    inline = {"name": "t", "kind": "http", "tools": [{"name": "x", "url": "http://tools.example/", "headers": headers}]}
    with pytest.raises(InvalidToolDefinition) as raised:
        parse_definition(inline, allow_private_networks=True, schemas=SCHEMAS)
    assert raised.value.param == f"tools[0].{param}"


def test_a_header_whose_variable_holds_a_line_break_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_X", "secret\nX-Injected: yes")
    body = {"name": "t", "kind": "mcp", "url": "http://tools.example/mcp", "headers": {"X-Token": "${TOKEN_X}"}}
    with pytest.raises(InvalidToolDefinition) as raised:
        parse_definition(body, allow_private_networks=True, schemas=SCHEMAS)
    assert raised.value.param == "headers.X-Token"
    assert "secret" not in raised.value.message


def test_a_definition_nested_too_deeply_is_refused_as_invalid_json() -> None:
    body = b'{"name": "t", "kind": "openapi", "openapi": {"paths": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    with pytest.raises(InvalidToolDefinition) as raised:
        parse_definition(body, allow_private_networks=True, schemas=SCHEMAS)
    assert raised.value.code == "invalid_json"


# ------------------------------------------------------------------------------------------------ egress guard


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "fe80::1",
        "fd00:ec2::254",
        "100.100.100.200",
        "::ffff:169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
    ],
)
def test_link_local_metadata_and_non_unicast_addresses_are_always_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), allow_private_networks=True) is not None


def test_private_and_loopback_addresses_are_allowed_unless_turned_off() -> None:
    for address in ("127.0.0.1", "10.1.2.3", "192.168.1.10", "100.64.0.1", "::1"):
        assert refusal(ipaddress.ip_address(address), allow_private_networks=True) is None
        assert refusal(ipaddress.ip_address(address), allow_private_networks=False) is not None
    assert refusal(ipaddress.ip_address("93.184.216.34"), allow_private_networks=False) is None


def test_urls_are_checked_for_scheme_and_literal_addresses() -> None:
    for url in ("ftp://example.org/", "http://", "http://169.254.169.254/", "http://[fe80::1%25eth0]/"):
        with pytest.raises(UrlRefused):
            check_url(url, allow_private_networks=True)
    check_url("https://n8n.internal:5678/webhook/x", allow_private_networks=True)


class _Resolves(AbstractResolver):
    def __init__(self, address: str) -> None:
        self.address = address

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [{"hostname": host, "host": self.address, "port": port, "family": family, "proto": 0, "flags": 0}]

    async def close(self) -> None:
        return None


async def test_a_name_resolving_to_a_metadata_address_is_refused_at_connect_time() -> None:
    with pytest.raises(AddressRefused):
        await GuardedResolver(allow_private_networks=True, resolver=_Resolves("169.254.169.254")).resolve(
            "evil.example"
        )
    egress = EgressClient(allow_private_networks=True, resolver=_Resolves("169.254.169.254"))
    try:
        with pytest.raises(ToolUnreachable) as raised:
            await egress.request("GET", "http://metadata.example/latest", time_limit=5, max_bytes=1024)
        assert raised.value.code == "tool_address_refused"
        assert "169.254.169.254" in raised.value.message
    finally:
        await egress.aclose()


async def test_a_cookie_a_tool_server_sets_is_not_sent_with_the_next_call() -> None:
    cookies: list[str | None] = []

    class SetsCookies(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            cookies.append(self.headers.get("cookie"))
            self.send_response(200)
            self.send_header("set-cookie", "session=abc; Path=/")
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SetsCookies)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    egress = EgressClient(allow_private_networks=True)
    # `localhost`, not an address: aiohttp's cookie jar takes no cookies from an IP address.
    url = f"http://localhost:{server.server_address[1]}/weather"
    try:
        for _ in range(2):
            answer = await egress.request("GET", url, time_limit=5, max_bytes=1024)
            assert answer.status == 200
    finally:
        await egress.aclose()
        server.shutdown()
        server.server_close()

    assert cookies == [None, None]


# ----------------------------------------------------------------------------------------------------- results


def test_a_cut_answer_never_ends_inside_a_character() -> None:
    body = "é".encode() * 3
    output = http_output(200, "text/plain", body[:5], truncated=True)
    assert output.content[0].text == "éé"  # type: ignore[union-attr]
    assert output.truncated is True


def test_json_answers_are_structured_and_errors_marked() -> None:
    output = http_output(422, "application/json; charset=utf-8", b'{"detail": "no"}', truncated=False)
    assert (output.is_error, output.structured, output.retryable) == (True, {"detail": "no"}, False)
    assert http_output(503, "text/plain", b"", truncated=False).retryable is True


# ---------------------------------------------------------------------------------------------------- registry


@contextlib.asynccontextmanager
async def serving(method: str, path: str, handler: Handler) -> AsyncIterator[str]:
    """An aiohttp server on 127.0.0.1 answering `method path` with `handler`; yields its base URL."""
    app = web.Application()
    app.router.add_route(method, path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def echo_url() -> AsyncIterator[str]:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"got": await request.json()})

    async with serving("POST", "/echo", echo) as base:
        yield f"{base}/echo"


def registry(store: Any = None, **settings: Any) -> ToolRegistry:
    tool_settings = ToolSettings(**settings)
    return ToolRegistry(
        tool_settings,
        store=store or MemoryRecordStore("toolsets"),
        invocations=LocalInvocationLog(10),
        limiter=LocalRateLimiter(),
        egress=EgressClient(allow_private_networks=True),
        schemas=SCHEMAS,
    )


def assert_described(instance: Any, schema_name: str) -> None:
    """The instance is as the router's own OpenAPI description says."""
    document = yaml.safe_load(DESCRIPTION.read_text(encoding="utf-8"))
    described = Registry().with_resource("urn:llm-router", Resource.from_contents(document, DRAFT202012))
    validator = jsonschema.Draft202012Validator(
        {"$ref": f"urn:llm-router#/components/schemas/{schema_name}"}, registry=described
    )
    errors = [error.message for error in validator.iter_errors(instance)]
    assert not errors, errors


async def test_the_registry_validates_invokes_and_records(echo_url: str) -> None:
    tools = registry()
    await tools.start()
    try:
        body = b'{"name": "svc", "kind": "http", "tools": [{"name": "echo", "url": "%s", ' % echo_url.encode()
        body += b'"parameters": {"type": "object", "properties": {"n": {"type": "integer"}}}}]}'
        toolset = await tools.register(body)
        assert toolset.by_server_name("echo") is tools.resolve("svc_echo")
        result = await tools.invoke("svc_echo", {"n": 1}, request_id="r1")
        assert result.structured_content == {"got": {"n": 1}}
        with pytest.raises(InvalidToolArguments) as raised:
            await tools.invoke("svc_echo", {"n": "one"}, request_id="r2")
        assert raised.value.param == "arguments.n"
        with pytest.raises(ToolNotFound):
            await tools.invoke("svc_nothing", {}, request_id="r3")
        recorded = await tools.invocations.recent()
        assert [(each.request_id, each.outcome) for each in recorded] == [
            ("r2", "invalid_arguments"),
            ("r1", "success"),
        ]
    finally:
        await tools.close()
        await tools.egress.aclose()


@pytest.mark.parametrize("log_content", [False, True])
async def test_an_invocation_record_is_as_described(echo_url: str, log_content: bool) -> None:
    tools = registry(log_content=log_content)
    await tools.start()
    try:
        body = b'{"name": "svc", "kind": "http", "tools": [{"name": "echo", "url": "%s"}]}' % echo_url.encode()
        await tools.register(body)
        await tools.invoke("svc_echo", {"n": 1}, request_id="r1")
        (recorded,) = await tools.invocations.recent()
    finally:
        await tools.close()
        await tools.egress.aclose()

    record = msgspec.to_builtins(recorded)
    assert_described(record, "ToolInvocationRecord")
    # These were left out of every record that had them at their defaults: a direct call's source above all.
    assert (record["object"], record["source"], record["key"], record["error"]) == (
        "tool.invocation.record",
        "api",
        None,
        None,
    )
    # The content is kept only when asked for.
    assert ("arguments" in record, "output" in record) == (log_content, log_content)


async def test_an_openapi_header_argument_cannot_write_headers_of_its_own() -> None:
    seen: list[str] = []

    async def greet(request: web.Request) -> web.Response:
        seen.append(request.headers.get("x-tone", ""))
        return web.json_response({"ok": True})

    operation = {
        "operationId": "greet",
        "parameters": [{"name": "x-tone", "in": "header", "required": True, "schema": {"type": "string"}}],
    }
    tools = registry()
    await tools.start()
    async with serving("GET", "/greet", greet) as base:
        document = {"openapi": "3.0.3", "servers": [{"url": base}], "paths": {"/greet": {"get": operation}}}
        try:
            await tools.register(msgspec.json.encode({"name": "api", "kind": "openapi", "openapi": document}))
            await tools.invoke("api_greet", {"x-tone": "warm"}, request_id="r1")
            with pytest.raises(InvalidToolArguments) as raised:
                await tools.invoke("api_greet", {"x-tone": "warm\r\nx-admin: yes"}, request_id="r2")
        finally:
            await tools.close()
            await tools.egress.aclose()
    assert seen == ["warm"]  # the second call never left the router
    assert raised.value.param == "arguments.x-tone"
    assert "x-admin" not in raised.value.message


async def test_an_openapi_document_nested_too_deeply_is_refused_naming_it() -> None:
    schema: dict[str, Any] = {}
    for _ in range(900):
        schema = {"items": schema}
    operation = {"operationId": "deep", "parameters": [{"name": "q", "in": "query", "schema": schema}]}
    document = {"openapi": "3.0.3", "servers": [{"url": "http://127.0.0.1:9"}], "paths": {"/deep": {"get": operation}}}
    tools = registry()
    await tools.start()
    try:
        with pytest.raises(InvalidToolDefinition) as raised:
            await tools.register(msgspec.json.encode({"name": "deep", "kind": "openapi", "openapi": document}))
    finally:
        await tools.close()
        await tools.egress.aclose()
    assert raised.value.param == "openapi"


async def test_an_openapi_document_whose_references_branch_is_refused_before_it_expands() -> None:
    # Each schema refers to the next one twice: 30 levels would inline to 2**30 copies of the last.
    components = {
        f"S{level}": {
            "type": "object",
            "properties": {
                "a": {"$ref": f"#/components/schemas/S{level + 1}"},
                "b": {"$ref": f"#/components/schemas/S{level + 1}"},
            },
        }
        for level in range(30)
    }
    components["S30"] = {"type": "string"}
    operation = {
        "operationId": "wide",
        "parameters": [{"name": "q", "in": "query", "schema": {"$ref": "#/components/schemas/S0"}}],
    }
    document = {
        "openapi": "3.0.3",
        "servers": [{"url": "http://127.0.0.1:9"}],
        "paths": {"/wide": {"get": operation}},
        "components": {"schemas": components},
    }
    tools = registry()
    await tools.start()
    try:
        started = time.perf_counter()
        with pytest.raises(InvalidToolDefinition) as raised:
            await tools.register(msgspec.json.encode({"name": "wide", "kind": "openapi", "openapi": document}))
        seconds = time.perf_counter() - started
    finally:
        await tools.close()
        await tools.egress.aclose()
    assert raised.value.param == "openapi"
    assert "max_values" in raised.value.message
    assert seconds < 2  # refused once past the limit, not after expanding a billion nodes


async def test_the_mcp_server_answers_a_body_nested_too_deeply_with_a_parse_error() -> None:
    server = MCPServer(registry(), allowed_origins=[])
    answer = await server.handle(b"[" * 5000 + b"]" * 5000, {}, key=None, request_id="r")
    assert answer.status == 400
    assert msgspec.json.decode(answer.body or b"")["error"]["code"] == -32700


async def test_a_sqlite_store_gives_toolsets_back_after_a_restart(echo_url: str, tmp_path: Path) -> None:
    body = b'{"name": "kept", "kind": "http", "tools": [{"name": "echo", "url": "%s"}]}' % echo_url.encode()
    first = registry(SqliteRecordStore(tmp_path / "tools.sqlite3", "toolsets"))
    await first.start()
    await first.register(body)
    await first.close()
    await first.egress.aclose()
    second = registry(SqliteRecordStore(tmp_path / "tools.sqlite3", "toolsets"))
    await second.start()
    try:
        result = await second.invoke("kept_echo", {"a": 1}, request_id="r")
        assert result.structured_content == {"got": {"a": 1}}
    finally:
        await second.close()
        await second.egress.aclose()


def test_an_invalid_config_toolset_stops_the_router_naming_its_setting() -> None:
    bad = {"bad": {"kind": "http", "tools": [{"name": "x", "url": "http://169.254.169.254/"}]}}
    with pytest.raises(ConfigError, match=r"toolsets\.bad\.tools\[0\]\.url"):
        ToolRegistry(
            ToolSettings(),
            store=MemoryRecordStore("toolsets"),
            invocations=LocalInvocationLog(10),
            limiter=LocalRateLimiter(),
            egress=None,  # type: ignore[arg-type]
            schemas=SCHEMAS,
            config_toolsets=bad,
        )
