"""The README's examples, run as written against a real router, so that the README cannot drift from it.

Every `python` and `sh` block in README.md runs on its own: a `python` block with this interpreter, an `sh`
block with bash from the repository's root (`set -eo pipefail`, and `curl` failing on an HTTP error). The
address `http://127.0.0.1:8080` in a block becomes the test router's. The router serves the offline `mock`
provider, with `LLM_ROUTER_ADMIN_KEY` set, as it is in each block's environment. A block that cannot run
here follows a line `<!-- not run: <why> -->`; blocks in other languages are configuration or output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.processes import run_router

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RUN = ("python", "sh")
DOCUMENTED_ADDRESS = "http://127.0.0.1:8080"
ADMIN_KEY = "sk-readme-admin-key"
# Makes a failing request fail the block, as `raise` does in Python.
SH_PRELUDE = 'set -eo pipefail\ncurl() { command curl --silent --show-error --fail-with-body "$@"; }\n'

_FENCE = re.compile(r"^```(\S*)\s*$")
_NOT_RUN = re.compile(r"^<!-- not run:(.*)-->\s*$")


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int
    section: str
    not_run: str | None  # why, when the block is marked

    @property
    def name(self) -> str:
        return f"{self.section} (README.md:{self.line})"


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block, with its language, its heading and the reason it is not run (if it is marked)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    section, previous, index = "README", "", 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        fence = _FENCE.match(line)
        if fence is None:
            if line.strip():
                previous = line
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        marker = _NOT_RUN.match(previous)
        code = "\n".join(lines[index + 1 : end]) + "\n"
        blocks.append(Block(fence.group(1), code, index + 1, section, marker.group(1).strip() if marker else None))
        previous, index = "", end + 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))
RUNNABLE = [block for block in BLOCKS if block.language in RUN and block.not_run is None]


@pytest.fixture(scope="module")
def readme_router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    yield from run_router(tmp_path_factory.mktemp("readme"), {"LLM_ROUTER_ADMIN_KEY": ADMIN_KEY})


def test_the_readme_has_examples_to_run() -> None:
    languages = {block.language for block in RUNNABLE}

    assert languages == set(RUN), "the README's python and sh examples were not found"
    assert len(RUNNABLE) >= 5


def test_every_block_not_run_says_why() -> None:
    marked = [block for block in BLOCKS if block.not_run is not None]

    assert marked, "the marker was not recognised"
    assert all(block.not_run for block in marked), [block.name for block in marked if not block.not_run]
    assert all(block.language in RUN for block in marked), "only python and sh blocks are run: no marker needed"


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda block: block.name)
def test_a_readme_example_runs_as_written(block: Block, readme_router: RouterProcess, tmp_path: Path) -> None:
    code = block.code.replace(DOCUMENTED_ADDRESS, readme_router.root_url)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("LLM_ROUTER_")}
    environment["LLM_ROUTER_ADMIN_KEY"] = ADMIN_KEY
    if block.language == "python":
        command, cwd = [sys.executable, "-c", code], tmp_path
    else:
        command, cwd = ["bash", "-c", SH_PRELUDE + code], ROOT

    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, f"{block.name} failed:\n{code}\n{result.stdout}\n{result.stderr}"
