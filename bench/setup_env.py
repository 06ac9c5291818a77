"""Idempotent setup: Debian packages, the LiteLLM virtualenv, the router install."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nginx

__all__ = [
    "BENCH_DIR",
    "LITELLM_SPEC",
    "ensure_debian_packages",
    "ensure_echo_module",
    "ensure_litellm",
    "ensure_router",
    "litellm_executable",
    "load_average",
    "log",
    "machine_summary",
    "nginx_version",
    "package_version",
    "router_executable",
    "router_server_versions",
]

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
LITELLM_VENV = BENCH_DIR / ".venv-litellm"
ROUTER_VENV = REPO_DIR / ".venv"

LITELLM_SPEC = "litellm[proxy]==1.106.2"
"""Pinned so that runs stay comparable; override with --litellm-spec."""

_INSTALL_TIMEOUT = 1800


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run(argv: list[str], *, timeout: float = _INSTALL_TIMEOUT, env: dict[str, str] | None = None) -> None:
    log("$ " + " ".join(argv))
    subprocess.run(argv, check=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def ensure_debian_packages() -> None:
    """Install nginx and wrk with apt-get unless both are already on PATH."""
    if shutil.which("nginx") and shutil.which("wrk"):
        return
    if os.geteuid() != 0:
        raise SystemExit("nginx and wrk are missing; run as root or: sudo apt-get install -y nginx-light wrk")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # nginx-light is the smallest flavour; newer Debian releases only ship nginx.
    for packages in (["nginx-light", "wrk"], ["nginx", "wrk"]):
        for update_first in (False, True):
            try:
                if update_first:
                    _run(["apt-get", "update", "-q"], env=env)
                _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], env=env)
            except subprocess.CalledProcessError:
                continue
            if shutil.which("nginx") and shutil.which("wrk"):
                return
    raise SystemExit("could not install nginx and wrk with apt-get")


def ensure_echo_module(*, install: bool = True) -> None:
    """Install nginx's echo module (the slow-streams scenario's upstream) unless it is there."""
    if nginx.ECHO_MODULE.exists():
        return
    if not install:
        raise SystemExit(f"{nginx.ECHO_MODULE} is missing (apt-get install libnginx-mod-http-echo)")
    if os.geteuid() != 0:
        raise SystemExit(
            f"{nginx.ECHO_MODULE} is missing; run as root, or: sudo apt-get install -y libnginx-mod-http-echo"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for update_first in (False, True):
        try:
            if update_first:
                _run(["apt-get", "update", "-q"], env=env)
            _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "libnginx-mod-http-echo"], env=env)
        except subprocess.CalledProcessError:
            continue
        if nginx.ECHO_MODULE.exists():
            return
    raise SystemExit("could not install libnginx-mod-http-echo with apt-get")


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def litellm_executable() -> Path:
    return LITELLM_VENV / "bin" / "litellm"


def ensure_litellm(spec: str) -> Path:
    """The ``litellm`` executable from bench/.venv-litellm, installing ``spec`` if needed."""
    exe = litellm_executable()
    wanted = re.search(r"==\s*([\w.]+)", spec)
    if exe.exists():
        installed = package_version(_venv_python(LITELLM_VENV), "litellm")
        if wanted is None or installed == wanted.group(1):
            return exe
        log(f"LiteLLM {installed} installed, {wanted.group(1)} wanted")
    if not _venv_python(LITELLM_VENV).exists():
        _run([sys.executable, "-m", "venv", str(LITELLM_VENV)])
    _run([str(_venv_python(LITELLM_VENV)), "-m", "pip", "install", "-q", spec])
    return exe


def router_executable() -> Path:
    return ROUTER_VENV / "bin" / "llm-router"


def ensure_router() -> Path:
    """The ``llm-router`` console script, installing the repo into .venv if needed."""
    exe = router_executable()
    if exe.exists():
        return exe
    if not (REPO_DIR / "pyproject.toml").exists():
        raise SystemExit(f"{REPO_DIR / 'pyproject.toml'} not found; cannot install the router")
    if not _venv_python(ROUTER_VENV).exists():
        _run([sys.executable, "-m", "venv", str(ROUTER_VENV)])
    _run([str(_venv_python(ROUTER_VENV)), "-m", "pip", "install", "-q", "-e", str(REPO_DIR)])
    if not exe.exists():
        raise SystemExit(f"installed the router but {exe} does not exist")
    return exe


# --------------------------------------------------------------------------
# Versions, for the report header
# --------------------------------------------------------------------------


def package_version(python: Path, distribution: str) -> str:
    code = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
    try:
        out = subprocess.run(
            [str(python), "-c", code, distribution], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "not installed"
    return out.stdout.strip()


def router_server_versions() -> dict[str, str]:
    """The router's version and that of the ASGI server(s) it depends on."""
    code = (
        "import importlib.metadata as m, json, re\n"
        "out = {'llm-router': m.version('llm-router')}\n"
        "for req in m.requires('llm-router') or []:\n"
        "    if 'extra ==' in req: continue\n"
        "    name = re.split(r'[ ;<>=!~\\[]', req, maxsplit=1)[0].lower()\n"
        "    if name in ('granian', 'uvicorn', 'hypercorn', 'gunicorn', 'socketify'):\n"
        "        try: out[name] = m.version(name)\n"
        "        except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))\n"
    )
    try:
        out = subprocess.run(
            [str(_venv_python(ROUTER_VENV)), "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return dict(json.loads(out.stdout))
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}


def nginx_version() -> str:
    out = subprocess.run(["nginx", "-v"], capture_output=True, text=True, timeout=10)
    match = re.search(r"nginx/(\S+)", out.stderr + out.stdout)
    return match.group(1) if match else "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def python_version(python: Path) -> str:
    try:
        out = subprocess.run(
            [str(python), "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return platform.python_version()
    return out.stdout.strip()


def load_average() -> str:
    """The 1, 5 and 15-minute load averages."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def machine_summary() -> dict[str, str]:
    """CPU, cores, kernel, the router's Python, and the load average before the run."""
    loadavg = load_average()
    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count() or "?"),
        "kernel": platform.release(),
        "python": python_version(_venv_python(ROUTER_VENV)),
        "loadavg": loadavg,
    }
