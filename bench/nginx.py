"""nginx instances: the canned upstream and the plain reverse proxy (the floor).

Both run as foreground children with their own prefix, configuration, pid and
logs under the run's work directory; the system nginx service is never used.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import payloads
from procs import ManagedProcess

__all__ = ["CHAT_PATH", "JSON_PREFIX", "STREAM_PREFIX", "start", "write_proxy", "write_upstream"]

JSON_PREFIX = "/json/v1"
STREAM_PREFIX = "/stream/v1"
CHAT_PATH = "/chat/completions"


def nginx_binary() -> str:
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(path).exists():
        raise FileNotFoundError("nginx not found")
    return path


def _write_config(workdir: Path, name: str, http: str) -> Path:
    """Write ``<name>.conf``: one worker, in the foreground, every path inside ``workdir``.

    ``http`` is the body of the ``http`` block (upstreams and servers).
    """
    tmp = workdir / f"{name}-tmp"
    tmp.mkdir(exist_ok=True)
    conf = workdir / f"{name}.conf"
    conf.write_text(
        f"""worker_processes 1;
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


def write_upstream(workdir: Path, port: int) -> Path:
    """Configure the canned upstream.

    ``POST {JSON_PREFIX}/chat/completions`` answers with the canned completion
    (Content-Length); ``POST {STREAM_PREFIX}/chat/completions`` with the
    canned event stream, sent chunked like a real SSE response.  The static
    handler refuses POST with 405, which ``error_page 405 =200 $uri`` turns
    into serving the file.
    """
    root = workdir / "upstream-root"
    bodies = {JSON_PREFIX: payloads.canned_completion(), STREAM_PREFIX: payloads.canned_stream()}
    for prefix, content in bodies.items():
        target = root / (prefix + CHAT_PATH).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return _write_config(
        workdir,
        "upstream",
        f"""
    etag off;
    sendfile on;

    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root};

        location = {JSON_PREFIX}{CHAT_PATH} {{
            default_type application/json;
            error_page 405 =200 $uri;
        }}
        location = {STREAM_PREFIX}{CHAT_PATH} {{
            default_type text/event-stream;
            add_header Cache-Control no-cache;
            # The SSI filter drops Content-Length, so the stream goes out chunked.
            ssi on;
            ssi_types text/event-stream;
            error_page 405 =200 $uri;
        }}
        location = /health {{
            default_type text/plain;
            return 200 "ok\\n";
        }}
        location / {{
            return 404;
        }}
    }}
""",
    )


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
