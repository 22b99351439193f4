"""The README's examples are fixtures: every ```toml block is a config file lfctl accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.daemon import Home, lfctl

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^```toml\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def toml_blocks() -> list[tuple[int, str]]:
    """``(line number, text)`` of every TOML block in the README."""
    text = README.read_text()
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in FENCE.finditer(text)]


def test_the_readme_has_toml_examples() -> None:
    assert toml_blocks(), "README.md lost its config examples (or the fence pattern is wrong)"


@pytest.mark.parametrize(
    ("line", "block"), toml_blocks(), ids=[f"README.md:{n}" for n, _ in toml_blocks()]
)
def test_readme_toml_block_is_a_valid_config(
    home: Home, tmp_path: Path, line: int, block: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(block)
    done = lfctl(home, "config", "check", "--json", str(config))
    assert done.returncode == 0, f"README.md line {line}: {done.stderr.strip()}"
    result = json.loads(done.stdout)
    assert result["ok"] is True
    # Example paths name files the reader does not have: a warning, never an error.
    assert all("does not exist" in w or "not a directory" in w for w in result["warnings"])
    assert not home.paths.socket.exists()  # checking a file never starts the daemon
