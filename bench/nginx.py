"""nginx instances: the canned upstream and the plain reverse proxy (the floor).

Both run as foreground children with their own prefix, configuration, pid and
logs under the run's work directory; the system nginx service is never used.
"""

from __future__ import annotations

import collections
import shutil
from pathlib import Path

import payloads
import scenario_payloads
from procs import ManagedProcess

__all__ = [
    "AGENT_PREFIX",
    "CHAT_PATH",
    "ECHO_MODULE",
    "JSON_PREFIX",
    "SLOW_PREFIX",
    "STREAM_PREFIX",
    "TOOL_PATH",
    "start",
    "upstream_calls",
    "write_proxy",
    "write_upstream",
]

JSON_PREFIX = "/json/v1"
STREAM_PREFIX = "/stream/v1"
AGENT_PREFIX = "/agent/v1"
"""Answers with a call of the agent scenario's tool."""
SLOW_PREFIX = "/slow/v1"
"""Streams the canned answer's first event, holds the stream open, then sends the rest."""
CHAT_PATH = "/chat/completions"
MODELS_PATH = "/models"
TOOL_PATH = "/tools/weather/forecast"
"""The agent scenario's HTTP tool."""

ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
"""Debian's libnginx-mod-http-echo: it lets a location send, flush, sleep and send again."""

_CALLS_LOG = "upstream-calls.log"
"""One line per request to the agent scenario's model and tool, so a run can count what an agent request
costs upstream."""


def nginx_binary() -> str:
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(path).exists():
        raise FileNotFoundError("nginx not found")
    return path


def _write_config(workdir: Path, name: str, http: str, main: str = "") -> Path:
    """Write ``<name>.conf``: one worker, in the foreground, every path inside ``workdir``.

    ``http`` is the body of the ``http`` block (upstreams and servers); ``main`` goes before everything.
    """
    tmp = workdir / f"{name}-tmp"
    tmp.mkdir(exist_ok=True)
    conf = workdir / f"{name}.conf"
    conf.write_text(
        f"""{main}worker_processes 1;
daemon off;
master_process on;
pid {workdir}/{name}.pid;
error_log {workdir}/{name}-error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    server_tokens off;
    tcp_nodelay on;
    keepalive_timeout 75s;
    # Never close a client's keep-alive connection on a request count.
    keepalive_requests 10000000;
    client_body_buffer_size 64k;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ }}
{http}}}
"""
    )
    return conf


def _echo_text(text: str) -> str:
    """``text`` as one argument of the echo module's ``echo -n``: single-quoted, with nginx's escapes."""
    # echo's arguments may name nginx variables; the canned bodies never contain a dollar sign.
    assert "$" not in text, "the echo module would read $ as a variable"
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def write_upstream(workdir: Path, port: int, hold_s: float | None) -> Path:
    """Configure the canned upstream.

    ``POST {JSON_PREFIX}/chat/completions`` answers with the canned completion
    (Content-Length); ``POST {STREAM_PREFIX}/chat/completions`` with the
    canned event stream, sent chunked like a real SSE response.  The static
    handler refuses POST with 405, which ``error_page 405 =200 $uri`` turns
    into serving the file.  ``{AGENT_PREFIX}`` answers with a call of the
    agent's tool, and ``{TOOL_PATH}`` is that tool; both log each request
    (``upstream_calls``).  With ``hold_s``, ``{SLOW_PREFIX}`` sends the
    stream's first event, waits ``hold_s`` seconds, then sends the rest; it
    needs the echo module, which is loaded only then.  Every prefix lists the
    model at ``GET <prefix>/models``.
    """
    root = workdir / "upstream-root"
    bodies = {
        JSON_PREFIX + CHAT_PATH: payloads.canned_completion(),
        STREAM_PREFIX + CHAT_PATH: payloads.canned_stream(),
        AGENT_PREFIX + CHAT_PATH: payloads.canned_completion(scenario_payloads.AGENT_TOOL),
        TOOL_PATH: scenario_payloads.tool_answer(),
    }
    for prefix in (JSON_PREFIX, STREAM_PREFIX, AGENT_PREFIX, SLOW_PREFIX):
        bodies[prefix + MODELS_PATH] = payloads.model_listing()
    for path, content in bodies.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    calls_log = f"access_log {workdir / _CALLS_LOG} calls;"
    slow, main = "", ""
    if hold_s is not None:
        first, separator, rest = payloads.canned_stream().decode().partition("\n\n")
        slow = f"""
        location = {SLOW_PREFIX}{CHAT_PATH} {{
            default_type text/event-stream;
            add_header Cache-Control no-cache;
            echo -n {_echo_text(first + separator)};
            echo_flush;
            echo_sleep {hold_s:g};
            echo -n {_echo_text(rest)};
        }}"""
        main = f"load_module {ECHO_MODULE};\n"
    return _write_config(
        workdir,
        "upstream",
        f"""
    etag off;
    sendfile on;
    log_format calls "$uri";

    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root};

        location ~ ^/[a-z]+/v1{MODELS_PATH}$ {{
            default_type application/json;
        }}
        location = {JSON_PREFIX}{CHAT_PATH} {{
            default_type application/json;
            error_page 405 =200 $uri;
        }}
        location = {AGENT_PREFIX}{CHAT_PATH} {{
            default_type application/json;
            error_page 405 =200 $uri;
            {calls_log}
        }}
        location = {TOOL_PATH} {{
            default_type application/json;
            error_page 405 =200 $uri;
            {calls_log}
        }}
        location = {STREAM_PREFIX}{CHAT_PATH} {{
            default_type text/event-stream;
            add_header Cache-Control no-cache;
            # The SSI filter drops Content-Length, so the stream goes out chunked.
            ssi on;
            ssi_types text/event-stream;
            error_page 405 =200 $uri;
        }}{slow}
        location = /health {{
            default_type text/plain;
            return 200 "ok\\n";
        }}
        location / {{
            return 404;
        }}
    }}
""",
        main=main,
    )


def upstream_calls(workdir: Path) -> dict[str, int]:
    """Requests the upstream has had so far, by path, at the locations that log them."""
    try:
        lines = (workdir / _CALLS_LOG).read_text().splitlines()
    except FileNotFoundError:
        return {}
    return dict(collections.Counter(lines))


def write_proxy(workdir: Path, port: int, upstream_port: int) -> Path:
    """Configure a plain reverse proxy to the upstream: the lowest cost a proxy can add."""
    return _write_config(
        workdir,
        "proxy",
        f"""
    upstream canned {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
        keepalive_requests 10000000;
    }}

    server {{
        listen 127.0.0.1:{port} backlog=4096;
        proxy_http_version 1.1;
        proxy_set_header Connection "";

        location {JSON_PREFIX}/ {{
            proxy_pass http://canned;
        }}
        location {STREAM_PREFIX}/ {{
            proxy_pass http://canned;
            proxy_buffering off;
        }}
        location = /health {{
            default_type text/plain;
            return 200 "ok\\n";
        }}
    }}
""",
    )


def start(name: str, workdir: Path, conf: Path) -> ManagedProcess:
    return ManagedProcess(
        name,
        [nginx_binary(), "-p", str(workdir), "-e", str(workdir / f"{name}-error.log"), "-c", str(conf)],
        log_path=workdir / f"{name}.log",
    )
