"""The int8 embedding graph: built once, probed in a child, refused on any fault.

Real onnxruntime and the real bundled MiniLM; the faults are injected into the
probe child (``LOCALFORGE_INJECT_INT8_PROBE``), as a CPU whose int8 kernels crash,
hang or compute wrong vectors would behave.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from localforge.memory import int8_compute
from localforge.memory.embedder import (
    DEFAULT_MODEL,
    DEFAULT_MODEL_DIR,
    ONNX_SHA256,
    Embedder,
    assemble_default_model,
)
from localforge.memory.int8_compute import INJECT_ENV, int8_graph

TEXTS = [
    "write a python function that sorts a list",
    "What is the capital of Peru? Only the city.",
    "Prove that the square root of 2 is irrational.",
    "Explain why the sky is blue, in two sentences.",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return assemble_default_model(tmp_path_factory.mktemp("minilm") / DEFAULT_MODEL_DIR)


def verdicts(root: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted(root.glob("*/verdict-*.json"))]


def test_the_probe_passes_here_and_the_graph_is_reused(model_dir: Path, tmp_path: Path) -> None:
    graph = int8_graph(model_dir, ONNX_SHA256, cache_root=tmp_path)
    assert graph is not None and graph.is_file()
    [verdict] = verdicts(tmp_path)
    assert verdict["ok"] is True
    assert float(str(verdict["min_cosine"])) >= int8_compute.MIN_COSINE
    mtime = graph.stat().st_mtime_ns

    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("a kept verdict must not start the probe again")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess, "run", no_child)
        assert int8_graph(model_dir, ONNX_SHA256, cache_root=tmp_path) == graph
    assert graph.stat().st_mtime_ns == mtime


def test_a_new_cpu_is_probed_again(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert int8_graph(model_dir, ONNX_SHA256, cache_root=tmp_path) is not None
    monkeypatch.setattr(int8_compute, "cpu_fingerprint", lambda: "another-cpu")
    monkeypatch.setenv(INJECT_ENV, "crash")
    assert int8_graph(model_dir, ONNX_SHA256, cache_root=tmp_path) is None
    assert sorted(bool(v["ok"]) for v in verdicts(tmp_path)) == [False, True]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("crash", "exited with status"),
        ("drift", "drift from the float ones"),
        ("hang", "did not finish within"),
    ],
)
def test_a_faulty_probe_keeps_the_float_graph(
    model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    reason: str,
) -> None:
    monkeypatch.setenv(INJECT_ENV, fault)
    assert int8_graph(model_dir, ONNX_SHA256, cache_root=tmp_path, probe_timeout_s=5) is None
    [verdict] = verdicts(tmp_path)
    assert verdict["ok"] is False and reason in str(verdict["reason"])
    assert "stays on the float graph" in caplog.text
    assert 'embedding.compute = "float"' in caplog.text


def test_the_embedder_runs_int8_close_to_float_and_falls_back_on_a_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fast = Embedder(DEFAULT_MODEL, tmp_path / "a", cache_size=0)
    exact = Embedder(DEFAULT_MODEL, tmp_path / "a", cache_size=0, compute="float")
    assert (fast.graph, exact.graph) == ("int8", "float")
    cosines = np.sum(fast.embed(TEXTS) * exact.embed(TEXTS), axis=1)
    assert cosines.min() >= int8_compute.MIN_COSINE, cosines

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "other-cache"))
    monkeypatch.setenv(INJECT_ENV, "crash")
    fallen = Embedder(DEFAULT_MODEL, tmp_path / "b", cache_size=0)
    assert fallen.graph == "float"
    assert np.allclose(fallen.embed(TEXTS), exact.embed(TEXTS), atol=1e-5)


def test_an_int8_vector_does_not_depend_on_the_texts_embedded_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Activations are quantised per run: a text padded beside longer ones must not move."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fast = Embedder(DEFAULT_MODEL, tmp_path / "a", cache_size=0)
    assert fast.graph == "int8" and fast.graph_build.endswith("-rows")
    companions = [text * 4 for text in TEXTS] + ["ok", "fix this: KeyError 'user'"]
    alone = np.stack([fast.embed([text])[0] for text in TEXTS])
    together = fast.embed(TEXTS + companions)[: len(TEXTS)]
    assert np.array_equal(alone, together)
