"""The `llm-router` command's helpers: `hash-key`, the open-router warning, multiprocess metrics."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import resource
import socket
from typing import TYPE_CHECKING

import pytest

from app import cli
from app.access import hash_key
from app.settings import load_settings

if TYPE_CHECKING:
    from pathlib import Path


class _Piped(io.StringIO):
    def isatty(self) -> bool:
        return False


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_hash_key_hashes_the_key_piped_in(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", _Piped("sk-my-client-key\n"))

    assert cli.main(["hash-key"]) == 0

    out = capsys.readouterr().out
    assert out == f"sha256: {hashlib.sha256(b'sk-my-client-key').hexdigest()}\n"


def test_hash_key_generates_a_key_when_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", _Piped(""))

    assert cli.main(["hash-key", "--generate"]) == 0

    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.strip().splitlines())
    key, digest = lines["key"].strip(), lines["sha256"].strip()
    assert key.startswith("sk-llmr-")
    assert digest == hash_key(key)


@pytest.mark.parametrize("stdin", [_Piped(""), _Piped("\n"), _Terminal("")], ids=["empty", "blank", "terminal"])
def test_hash_key_generates_a_key_when_none_is_piped_in(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: io.StringIO
) -> None:
    monkeypatch.setattr("sys.stdin", stdin)

    assert cli.main(["hash-key"]) == 0

    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.strip().splitlines())
    assert lines["sha256"].strip() == hash_key(lines["key"].strip())


def test_hash_key_help_says_when_it_generates(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["hash-key", "--help"])

    assert "terminal, or empty" in " ".join(capsys.readouterr().out.split())


# ------------------------------------------------------------------------------------------------ serve


@pytest.mark.parametrize("reuse_port", [True, False], ids=["another-router", "another-program"])
def test_a_port_already_listened_on_is_refused_in_one_line(reuse_port: bool) -> None:
    with socket.socket() as holder:
        # The server's own sockets set SO_REUSEPORT; a plain program's do not.
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        problem = cli.address_unavailable("127.0.0.1", port)

    assert problem == f"cannot listen on 127.0.0.1:{port}: something is already listening there (another llm-router?)"


def test_a_free_port_is_not_refused() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
    assert cli.address_unavailable("127.0.0.1", port) is None
    assert cli.address_unavailable("127.0.0.1", 0) is None


@pytest.mark.parametrize(
    ("limits", "raised_to"),
    [((1024, 524288), 4096 + 512 + 256), ((1024, 2048), 2048), ((100_000, 100_000), None)],
)
def test_the_open_file_limit_is_raised_for_max_connections(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, limits: tuple[int, int], raised_to: int | None
) -> None:
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(resource, "getrlimit", lambda _: limits)
    monkeypatch.setattr(resource, "setrlimit", lambda _, values: calls.append(values))

    with caplog.at_level(logging.WARNING, logger="llm_router"):
        cli._raise_open_file_limit(load_settings())

    assert calls == ([] if raised_to is None else [(raised_to, limits[1])])
    assert any("open-file limit" in record.message for record in caplog.records) is (raised_to == limits[1])


@pytest.mark.parametrize(
    ("host", "keys", "warned"),
    [("0.0.0.0", False, True), ("::", False, True), ("0.0.0.0", True, False), ("127.0.0.1", False, False)],
)
def test_an_open_router_beyond_loopback_is_announced(
    caplog: pytest.LogCaptureFixture, host: str, keys: bool, warned: bool
) -> None:
    configured = {"k": {"sha256": hash_key("x")}} if keys else {}
    with caplog.at_level(logging.WARNING, logger="llm_router"):
        cli._warn_if_open(load_settings(host=host, keys=configured))

    assert any("no client keys" in record.message for record in caplog.records) is warned


def test_several_workers_get_a_fresh_metrics_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Set, then removed: monkeypatch restores the variable's absence (or value) whatever the helper sets.
    monkeypatch.setenv(cli.MULTIPROCESS_ENV, "")
    monkeypatch.delenv(cli.MULTIPROCESS_ENV)
    assert cli._multiprocess_metrics(1) is None

    made = cli._multiprocess_metrics(2)
    assert made is not None
    assert os.environ[cli.MULTIPROCESS_ENV] == made
    os.rmdir(made)

    stale = tmp_path / "counter_123.db"
    stale.write_bytes(b"old")
    monkeypatch.setenv(cli.MULTIPROCESS_ENV, str(tmp_path))
    assert cli._multiprocess_metrics(2) is None  # the operator's own directory, emptied but kept
    assert not stale.exists()
