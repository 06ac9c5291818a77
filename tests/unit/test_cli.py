"""The `llm-router` command's helpers: `hash-key`, the open-router warning, multiprocess metrics."""

from __future__ import annotations

import hashlib
import io
import logging
import os
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


def test_hash_key_refuses_empty_input(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", _Piped("\n"))

    assert cli.main(["hash-key"]) == 2
    assert "no key" in capsys.readouterr().err


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
