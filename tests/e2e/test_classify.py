"""`lfd classify` / `lfd train` as a user runs them, and `lfctl classify` against a real daemon."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lfctl.client import RpcError
from localforge.routing import training
from localforge.routing.classifier import LABELS
from tests.support.daemon import DaemonProcess, Home, lfctl

pytestmark = pytest.mark.e2e


def lfd(home: Home, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "localforge", *args],
        env=home.env,
        input=input,
        capture_output=True,
        timeout=120,
    )


def test_lfd_classify_mixed_batch_over_stdin(home: Home) -> None:
    lines = [
        b'{"text": "fix this error: ModuleNotFoundError: No module named requests", "id": "a"}',
        b"\xff\xfe\x00\x01 binary junk",
        b"What is 15% of 240?",
        b"",
        b"x" * (5 * 1024 * 1024),
        "🙂🎉".encode(),
        "Écris un poème sur la mer".encode(),
        b'{"id": "no text"}',
        b"Write a cover letter for a barista job",
    ]
    result = lfd(home, "classify", input=b"\n".join(lines) + b"\n")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == len(lines)
    assert result.returncode == 1
    assert b"2 of 9 lines could not be classified" in result.stderr
    assert rows[0]["id"] == "a" and rows[0]["task_type"] == "coding"
    assert set(rows[0]["probabilities"]) == set(LABELS)
    assert rows[1] == {"line": 2, "error": "line is not valid UTF-8 (byte 0); send UTF-8 text"}
    assert rows[2]["task_type"] == "math"
    assert rows[3]["routed_task_type"] == "general"
    assert rows[4]["routed_task_type"] in LABELS and len(rows[4]["text"]) == 5 * 1024 * 1024
    assert rows[5]["routed_task_type"] in LABELS
    assert rows[6]["task_type"] in LABELS
    assert rows[7]["line"] == 8 and "error" in rows[7]
    assert rows[8]["task_type"] == "instruction"


def test_lfd_classify_into_a_closed_pipe_exits_quietly(home: Home, tmp_path: Path) -> None:
    queries = tmp_path / "queries.txt"
    queries.write_text("how do I reverse a list in python\n" * 5000)
    done = subprocess.run(
        f"{sys.executable} -m localforge classify --set classifier.features=tfidf "
        f"< {queries} | head -n 1",
        shell=True,
        env=home.env,
        capture_output=True,
        timeout=120,
        executable="/bin/bash",
    )
    assert done.returncode == 0
    assert json.loads(done.stdout)["task_type"] == "coding"
    assert done.stderr == b""  # no BrokenPipeError traceback


def test_lfd_classify_single_query_as_json(home: Home) -> None:
    result = lfd(home, "classify", "--json", "write a regex that matches an email address")
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["task_type"] == "coding"
    assert row["routed_task_type"] == "coding"
    assert row["confidence"] == max(row["probabilities"].values())


def test_lfd_classify_refuses_an_artifact_trained_on_another_embedding(home: Home) -> None:
    static = "embedding.model=static/all-MiniLM-L6-v2"
    refused = lfd(home, "classify", "--set", static, "sort a list in python")
    assert refused.returncode != 0
    assert b"reads sentence-transformers/all-MiniLM-L6-v2 vectors" in refused.stderr
    assert b'classifier.features = "tfidf"' in refused.stderr
    plain = lfd(
        home, "classify", "--set", static, "--set", "classifier.features=tfidf", "--json", "2+2?"
    )
    assert plain.returncode == 0 and json.loads(plain.stdout)["task_type"] == "math"


def test_lfd_train_writes_an_artifact_that_lfd_classify_uses(home: Home, tmp_path: Path) -> None:
    data = tmp_path / "mine.jsonl"
    rows = [e for path in training.own_data_files() for e in training.read_examples(path)]
    data.write_text("".join(json.dumps(e.__dict__) + "\n" for e in rows))
    out = tmp_path / "artifact"
    result = lfd(
        home,
        "train",
        "--data",
        str(data),
        "--no-eval",
        "--no-loso",
        "--features",
        "tfidf",
        "--max-features",
        "800",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert (out / "arrays.npz").is_file() and (out / "metadata.json").is_file()
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["model"]["max_features"] == 800
    assert "wrote" in result.stdout.decode()
    classified = lfd(
        home, "classify", "--artifact", str(out), "--json", "how do I undo a git commit"
    )
    assert json.loads(classified.stdout)["task_type"] == "coding"
    bad = lfd(home, "classify", "--artifact", str(tmp_path / "nope"), "hi")
    assert bad.returncode == 1
    assert b"has no arrays.npz" in bad.stderr


def test_lfctl_classify_against_a_real_daemon(daemon: DaemonProcess, home: Home) -> None:
    shown = lfctl(home, "classify", "Traceback (most recent call last): KeyError: 'user'")
    assert shown.returncode == 0, shown.stderr
    first = shown.stdout.splitlines()[0]
    assert first.startswith("coding") and "█" in first
    as_json = json.loads(lfctl(home, "classify", "--json", "Who painted the Mona Lisa?").stdout)
    assert as_json["task_type"] == "general"
    assert as_json["artifact"]
    assert as_json["skipped_text"] == ""
    wrapped = lfctl(home, "classify", "Who painted the Mona Lisa? Answer with the name only.")
    assert wrapped.stdout.splitlines()[0].startswith("general"), wrapped.stdout
    assert "skipped   'Answer with the name only.': answer format" in wrapped.stdout
    assert daemon.call("route.classify", {"text": "🙂"})["routed_task_type"] in LABELS
    assert (
        daemon.call("route.classify", {"text": " "})["reason"] == "empty query: routed as general"
    )
    with pytest.raises(RpcError, match="missing param 'text'"):
        daemon.call("route.classify", {})


def test_lfctl_status_shows_the_classifier(daemon: DaemonProcess, home: Home) -> None:
    status = daemon.call("daemon.status")["services"]["classifier"]
    assert status["state"] == "ready"
    assert status["labels"] == list(LABELS)
    shown = lfctl(home, "status").stdout
    line = next(line for line in shown.splitlines() if "classifier" in line)
    assert status["version"] in line and "dev accuracy" in line and "hard_reasoning" in line


def test_labelled_bench_scores_each_file_and_label(home: Home, tmp_path: Path) -> None:
    queries = tmp_path / "suite.jsonl"
    bench = Path(__file__).resolve().parents[2] / "bench" / "labelled.py"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(bench), str(queries), *args]
        return subprocess.run(command, env=home.env, capture_output=True, text=True, timeout=120)

    rows = [
        {"text": "What is 17 times 23?", "label": "math"},
        {"text": "Write a haiku about autumn rain.", "label": "instruction"},
        {"text": "Write a haiku about autumn rain.", "label": "coding"},  # wrong on purpose
    ]
    queries.write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = run("--misses")
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.strip()}
    assert lines["suite"][1:3] == ["3", "0.667"]  # two of three labelled right
    assert lines["coding"][1:3] == ["1", "0.000"]
    assert lines["math"][1:3] == ["1", "1.000"]
    assert "suite: coding -> instruction" in done.stdout
    queries.write_text('{"text": "What is 17 times 23?"}\n')  # no label: a clear error
    done = run()
    assert done.returncode == 1
    assert f'{queries}:1: expected a JSON object with "text" and "label"' in done.stderr
