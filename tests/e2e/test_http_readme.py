"""The README's HTTP door examples, run as written against a real daemon (port swapped)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import lfctl
from tests.support.http import HttpDaemon, http_daemon

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
PORT = "8010"  # the port the README's examples use


def section() -> str:
    return README.read_text().split("\n## The HTTP door", 1)[1].split("\n## ", 1)[0]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), flags=re.S)


@pytest.fixture(scope="module")
def door() -> Iterator[HttpDaemon]:
    with http_daemon() as running:
        yield running


def test_the_readme_starts_the_door_with_the_flag_the_tests_use() -> None:
    [start, *_] = blocks("sh")
    assert start.strip() == f"lfd serve --http 127.0.0.1:{PORT}"


def test_the_curl_examples_answer_without_errors(door: HttpDaemon) -> None:
    commands = blocks("sh")[1].replace("\\\n", " ").strip().splitlines()
    assert len(commands) == 5
    for command in commands:
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command.replace(PORT, str(door.port))],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert done.stdout.strip() and '"error"' not in done.stdout, (command, done.stdout)
    assert "x-localforge-model: gemma" in _run_first(door, commands[0]).lower()


def _run_first(door: HttpDaemon, command: str) -> str:
    return subprocess.run(
        ["bash", "-c", command.replace(PORT, str(door.port))],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


def test_the_python_examples_run_with_the_openai_and_ollama_clients(door: HttpDaemon) -> None:
    scripts = blocks("python")
    assert len(scripts) == 2
    for script in scripts:
        done = subprocess.run(
            [sys.executable, "-c", script.replace(PORT, str(door.port))],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (script, done.stderr)
        assert done.stdout.strip()
        assert "'total': " in done.stdout or "Paris" not in script


def test_lfctl_metrics_prints_what_get_metrics_serves(door: HttpDaemon) -> None:
    done = lfctl(door.home, "metrics")
    assert done.returncode == 0, done.stderr
    assert "# TYPE localforge_http_requests_total counter" in done.stdout
    assert "localforge_memory_points" in done.stdout and "localforge_queue_depth" in done.stdout
