"""`lfctl models …` against a real daemon: catalogue, broken files, watched dirs, config reload,
load/unload/pin, and the mini-evaluation on the bundled Gemma model."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import DaemonProcess, Home, lfctl, run_daemon
from tests.support.gguf_files import (
    CHATML_TEMPLATE,
    write_corrupt,
    write_not_gguf,
    write_tiny_gguf,
    write_truncated,
)

pytestmark = pytest.mark.e2e


def models_json(home: Home, *args: str) -> Any:
    result = lfctl(home, "--no-start", "models", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def names(listing: dict[str, Any]) -> list[str]:
    return [m["name"] for m in listing["models"]]


def aged(path: Path) -> Path:
    then = time.time() - 60
    os.utime(path, (then, then))
    return path


def test_fresh_install_lists_the_bundled_gemma(daemon: DaemonProcess) -> None:
    listing = models_json(daemon.home, "list")
    assert names(listing) == ["gemma3-270m"]
    gemma = listing["models"][0]
    assert gemma["source"] == "bundled" and gemma["neutral_prior"] is True
    assert gemma["quantization"] == "Q4_K_M" and gemma["prompt_format"] == "plain"

    text = lfctl(daemon.home, "--no-start", "models", "list")
    assert text.returncode == 0
    assert "neutral prior" in text.stdout

    shown = lfctl(daemon.home, "--no-start", "models", "show", "gemma3-270m")
    assert shown.returncode == 0, shown.stderr
    assert "prompt format   plain" in shown.stdout
    assert "no chat template" in shown.stdout  # says why the fallback format is used
    assert "KV cache" in shown.stdout and "weights" in shown.stdout
    assert "Q4_K_M" in shown.stdout
    # A base model answers cooler, with a repeat penalty, unless [[models]] says otherwise.
    assert "chat defaults   temperature 0.3, top_p 0.9, repeat_penalty 1.1, max_tokens 256" in (
        shown.stdout
    )
    assert "base-model defaults (no chat template, not instruction-tuned)" in shown.stdout

    missing = lfctl(daemon.home, "--no-start", "models", "show", "nope")
    assert missing.returncode == 1 and "known models: gemma3-270m" in missing.stderr


def test_add_show_load_unload_remove(daemon: DaemonProcess, tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "tiny.gguf", chat_template=CHATML_TEMPLATE, fim="qwen")
    added = models_json(daemon.home, "add", str(path), "--name", "tiny")
    assert added["name"] == "tiny" and added["source"] == "added"
    assert names(models_json(daemon.home, "list")) == ["tiny"]  # the bundled model steps aside

    shown = models_json(daemon.home, "show", "tiny")
    assert shown["gguf"]["architecture"] == "llama" and shown["gguf"]["layers"] == 2
    assert shown["prompt_format"] == "gguf-template"
    assert shown["fim_tokens"]["prefix"] == "<|fim_prefix|>"
    assert shown["memory"]["total_bytes"] == shown["memory_bytes"]

    loaded = lfctl(daemon.home, "--no-start", "models", "load", "tiny")
    assert loaded.returncode == 0, loaded.stderr
    assert "tiny is resident" in loaded.stdout
    assert loaded.stderr.count("loading tiny") == 1  # not a terminal: one line, no bar
    assert models_json(daemon.home, "list")["models"][0]["resident"] is True
    pinned = models_json(daemon.home, "pin", "tiny")
    assert pinned["pinned"] is True
    unpinned = models_json(daemon.home, "pin", "tiny", "--off")
    assert unpinned["pinned"] is False
    assert models_json(daemon.home, "unload", "tiny")["unloaded"] is True

    removed = lfctl(daemon.home, "--no-start", "models", "remove", "tiny")
    assert removed.returncode == 0 and "removed tiny" in removed.stdout
    assert names(models_json(daemon.home, "list")) == ["gemma3-270m"]

    refused = lfctl(daemon.home, "--no-start", "models", "remove", "gemma3-270m")
    assert refused.returncode == 1 and "bundled model" in refused.stderr


def test_added_model_survives_a_restart(home: Home, tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "keep.gguf")
    with run_daemon(home):
        models_json(home, "add", str(path))
    with run_daemon(home):
        assert names(models_json(home, "list")) == ["keep"]


def test_broken_files_are_listed_with_the_reason(home: Home, tmp_path: Path) -> None:
    models = tmp_path / "models"
    good = aged(write_tiny_gguf(models / "good.gguf"))
    aged(write_truncated(models / "cut.gguf", good))
    aged(write_corrupt(models / "rotten.gguf", good))
    aged(write_not_gguf(models / "zip.gguf"))
    home.extra_env["LOCALFORGE_MODEL_DIRS"] = str(models)
    with run_daemon(home) as daemon:
        listing = models_json(home, "list")
        assert names(listing) == ["good"]
        reasons = {b["name"]: b["reason"] for b in listing["broken"]}
        assert set(reasons) == {"cut", "rotten", "zip"}
        assert "truncated" in reasons["cut"] and "download" in reasons["cut"]
        assert "corrupt" in reasons["rotten"]
        assert "not a GGUF file" in reasons["zip"]

        text = lfctl(home, "--no-start", "models", "list")
        assert "broken  cut (dir):" in text.stdout
        shown = lfctl(home, "--no-start", "models", "show", "zip")
        assert shown.returncode == 1 and "BROKEN" in shown.stdout

        chat = lfctl(home, "--no-start", "chat", "--model", "cut", "hi")
        assert chat.returncode == 1 and "truncated" in chat.stderr
        assert daemon.call("daemon.status")["services"]["registry"]["state"] == "ready"


def test_watched_directory_drop_and_remove(home: Home, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    source = write_tiny_gguf(tmp_path / "src" / "dropped.gguf")
    home.write_config(f'model_dirs = ["{models}"]\n')
    with run_daemon(home):
        assert names(models_json(home, "list")) == ["gemma3-270m"]
        shutil.copyfile(source, models / "dropped.gguf.part")
        shutil.move(models / "dropped.gguf.part", models / "dropped.gguf")
        assert wait_until(lambda: names(models_json(home, "list")) == ["dropped"])
        (models / "dropped.gguf").unlink()
        assert wait_until(lambda: names(models_json(home, "list")) == ["gemma3-270m"])


def test_config_edit_is_applied_and_a_bad_edit_is_refused(home: Home, tmp_path: Path) -> None:
    model = write_tiny_gguf(tmp_path / "m.gguf")
    config = home.write_config(f'[[models]]\nname = "one"\npath = "{model}"\n')
    with run_daemon(home) as daemon:
        assert names(models_json(home, "list")) == ["one"]
        config.write_text(
            f'[[models]]\nname = "one"\npath = "{model}"\n'
            f'[[models]]\nname = "two"\npath = "{model}"\nn_ctx = 512\n'
        )
        assert wait_until(lambda: names(models_json(home, "list")) == ["one", "two"])

        config.write_text('[[models]]\nname = "three"\n')  # no path or url: invalid
        assert wait_until(
            lambda: "not applied" in (daemon.call("daemon.status")["config"]["error"] or "")
        )
        assert "config change not applied" in lfctl(home, "status").stdout
        assert names(models_json(home, "list")) == ["one", "two"]


@pytest.mark.slow
def test_eval_on_the_bundled_gemma_stores_measured_scores(daemon: DaemonProcess) -> None:
    result = lfctl(
        daemon.home,
        "--no-start",
        "models",
        "eval",
        "gemma3-270m",
        "--category",
        "instruction",
        "--limit",
        "1",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "1 tasks passed" in result.stdout or "0/1 tasks passed" in result.stdout
    assert "[1/1] inst-one-word" in result.stderr  # progress, one line per task off a terminal
    shown = models_json(daemon.home, "show", "gemma3-270m")
    assert shown["measured"]["instruction"]["total"] == 1
    assert "mt_bench" in shown["benchmarks"]
    assert "lfctl models eval" in shown["benchmark_sources"]["mt_bench"]
    assert shown["neutral_prior"] is False
