"""The fused embedding graph: the same vectors from a fraction of the nodes.

Real onnx, real onnxruntime and the real bundled MiniLM, folded as the int8 build
folds it; both graphs embed one padded batch, so the padding mask is exercised.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from tokenizers import Tokenizer

from localforge.memory import graph_fusion, int8_compute
from localforge.memory.embedder import DEFAULT_MODEL_DIR, ONNX_SHA256, assemble_default_model
from localforge.memory.graph_fusion import FusionError, fuse, heads_in_config

TEXTS = [
    "write a python function that sorts a list",
    "What is the capital of Peru? Only the city.",
    "ok",
    "Prove that the square root of 2 is irrational, then explain the proof to a ten-year-old "
    "who has just learnt what a fraction is.",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return assemble_default_model(tmp_path_factory.mktemp("minilm") / DEFAULT_MODEL_DIR)


@pytest.fixture(scope="module")
def folded(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return int8_compute.fold(
        model_dir / "model.onnx", tmp_path_factory.mktemp("folded") / "model.onnx"
    )


def pooled(path: Path | bytes, model_dir: Path) -> np.ndarray:
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_padding()
    encodings = tokenizer.encode_batch(TEXTS)
    ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
    mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
    assert mask.min() == 0, "the batch must pad"
    source = str(path) if isinstance(path, Path) else path
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    hidden = session.run(None, feed)[0]
    vectors = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    return np.asarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


def test_every_layer_fuses_and_the_vectors_stay_the_same(folded: Path, model_dir: Path) -> None:
    model = onnx.load(str(folded))
    before = len(model.graph.node)
    assert fuse(model, heads_in_config(model_dir)) == (6, 6)
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("Attention") == 6 and ops.count("Gelu") == 6
    assert {"Softmax", "Erf", "Transpose", "IsNaN"}.isdisjoint(ops)
    assert len(ops) < before / 3, (len(ops), before)
    cosines = np.sum(pooled(folded, model_dir) * pooled(model.SerializeToString(), model_dir), 1)
    assert cosines.min() > 0.99999, cosines


def test_a_graph_of_another_shape_is_refused_by_name(folded: Path, model_dir: Path) -> None:
    no_mask = helper.make_model(
        helper.make_graph(
            [helper.make_node("Softmax", ["x"], ["y"])],
            "bare",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        )
    )
    with pytest.raises(FusionError, match="no attention_mask input"):
        fuse(no_mask, 12)
    model = onnx.load(str(folded))
    with pytest.raises(FusionError, match="unequal width"):
        fuse(model, 7)  # 384 wide cannot split into 7 heads
    with pytest.raises(FusionError, match=r"scores scaled by 0\.176777"):
        fuse(model, 6)  # heads of 64 would scale by 1/8, the graph scales by 1/√32
    with pytest.raises(FusionError, match="no attention head count"):
        heads_in_config(folded.parent)


def test_a_graph_that_does_not_fuse_is_quantised_as_exported(
    model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refuse(model: onnx.ModelProto, num_heads: int) -> tuple[int, int]:
        raise FusionError("injected")

    monkeypatch.setattr(graph_fusion, "fuse", refuse)
    with caplog.at_level(logging.WARNING):
        graph = int8_compute.int8_graph(model_dir, ONNX_SHA256, cache_root=tmp_path)
    assert graph is not None
    assert "quantised unfused: injected" in caplog.text
    ops = {node.op_type for node in onnx.load(str(graph)).graph.node}
    assert "Softmax" in ops and "QAttention" not in ops


def test_the_int8_build_runs_fused_attention(model_dir: Path, tmp_path: Path) -> None:
    graph = int8_compute.int8_graph(model_dir, ONNX_SHA256, cache_root=tmp_path)
    assert graph is not None
    ops = [node.op_type for node in onnx.load(str(graph)).graph.node]
    assert ops.count("QAttention") == 6 and "Softmax" not in ops
