"""Fewer, larger kernels for the default embedding model, before it is quantised.

The exported MiniLM spells each layer's attention as two dozen small nodes (three
projections, reshapes, transposes, shape arithmetic, a NaN guard after the softmax) and
each GELU as five. onnxruntime runs every node as its own kernel, and on a two-core
machine handing a 64-token activation from one kernel to the next costs about as much as
the arithmetic. This rewrite replaces each attention block with one ``com.microsoft``
Attention node (the three projection weights joined into one matrix, the padding mask
given as the raw attention mask), which ``quantize_dynamic`` then turns into QAttention,
and each GELU with one Gelu node. The folded MiniLM's 315 nodes become 81, and the float
graph's output is unchanged (the tests compare both on a padded batch).

Each block is matched by its shape, not by node names: an attention block is a Softmax
whose scores are ``Q·Kᵀ`` and whose weights multiply ``V``, where Q, K and V are
``X·W + b`` with constant W and b of one shared X. Anything else raises
:class:`FusionError` and the graph is quantised as exported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MS_DOMAIN = "com.microsoft"
MASK_INT32 = "attention_mask_int32"
MAX_PATH = 8  # nodes an attention path may pass through between a projection and a product


class FusionError(ValueError):
    """The graph does not have the shape this rewrite knows."""


@dataclass(frozen=True)
class Projection:
    """``scale · (x · weight + bias)``, weight, bias and scale constant."""

    x: str
    weight: np.ndarray
    bias: np.ndarray
    scale: float = 1.0


class _Graph:
    """Who makes and who reads each tensor, and the constants, of one ONNX graph."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph
        self.initializers = {t.name: t for t in graph.initializer}
        self.producer = {out: node for node in graph.node for out in node.output}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    def constant(self, name: str) -> np.ndarray | None:
        if name in self.initializers:
            return numpy_helper.to_array(self.initializers[name])
        node = self.producer.get(name)
        if node is not None and node.op_type == "Constant":
            return numpy_helper.to_array(node.attribute[0].t)
        return None

    def made_by(self, name: str, op_type: str) -> onnx.NodeProto:
        node = self.producer.get(name)
        if node is None or node.op_type != op_type:
            found = node.op_type if node is not None else "a graph input"
            raise FusionError(f"{name} comes from {found}, not {op_type}")
        return node

    def only_reader(self, name: str, *, skip: Iterable[str] = ()) -> onnx.NodeProto:
        readers = [n for n in self.consumers.get(name, []) if n.op_type not in skip]
        if len(readers) != 1:
            raise FusionError(f"{name} has {len(readers)} readers, expected one")
        return readers[0]

    def projection(self, name: str) -> Projection:
        """Walk back from ``name`` through reshaping and scalar scaling to ``x · W + b``."""
        scale = 1.0
        for _ in range(MAX_PATH):
            node = self.producer.get(name)
            if node is None:
                break
            if node.op_type in {"Transpose", "Reshape"}:
                name = node.input[0]
                continue
            if node.op_type in {"Mul", "Div"}:
                factor_name, name = self._split_constant(node)
                factor = self.constant(factor_name)
                if factor is None or factor.size != 1 or float(factor) == 0.0:
                    raise FusionError(f"{node.name} scales by something other than a number")
                scale = scale * float(factor) if node.op_type == "Mul" else scale / float(factor)
                continue
            if node.op_type != "Add":
                break
            bias_name, moving = self._split_constant(node)
            product = self.made_by(moving, "MatMul")
            weight = self.constant(product.input[1])
            bias = self.constant(bias_name)
            if weight is None or bias is None or weight.ndim != 2:
                raise FusionError(f"{product.name} has no constant 2-D weight")
            return Projection(product.input[0], weight, bias, scale)
        raise FusionError(f"no projection behind {name}")

    def _split_constant(self, node: onnx.NodeProto) -> tuple[str, str]:
        """(the constant input, the computed one) of a two-input node."""
        kinds = [self.constant(name) is not None for name in node.input]
        if len(node.input) != 2 or kinds.count(True) != 1:
            raise FusionError(f"{node.name} does not pair a constant with a tensor")
        constant, moving = node.input if kinds[0] else reversed(node.input)
        return constant, moving


def heads_in_config(model_dir: Path) -> int:
    """The attention head count in a Hugging Face ``config.json`` next to the graph."""
    config = model_dir / "config.json"
    try:
        return int(json.loads(config.read_text())["num_attention_heads"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FusionError(f"no attention head count in {config}: {exc}") from exc


def fuse(model: onnx.ModelProto, num_heads: int) -> tuple[int, int]:
    """Rewrite ``model`` in place; (attention blocks, GELUs) fused. Raises FusionError."""
    graph = _Graph(model.graph)
    if "attention_mask" not in {i.name for i in model.graph.input}:
        raise FusionError("the graph has no attention_mask input")
    fused: dict[str, onnx.NodeProto] = {}  # the tensor a block made -> the node making it now
    extra: list[TensorProto] = []
    for softmax in [n for n in model.graph.node if n.op_type == "Softmax"]:
        output, node, weights = _attention(graph, softmax, num_heads)
        fused[output] = node
        extra.extend(weights)
    attentions = len(fused)
    for erf in [n for n in model.graph.node if n.op_type == "Erf"]:
        output, node = _gelu(graph, erf)
        fused[output] = node
    if not attentions:
        raise FusionError("no attention block found")
    cast = helper.make_node(
        "Cast", ["attention_mask"], [MASK_INT32], to=TensorProto.INT32, name="mask_to_int32"
    )
    kept = [n for n in model.graph.node if not any(out in fused for out in n.output)]
    model.graph.initializer.extend(extra)
    _replace_nodes(model.graph, [cast, *kept, *fused.values()])
    if not any(op.domain == MS_DOMAIN for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    del model.graph.value_info[:]  # shapes of removed tensors; onnxruntime infers its own
    return attentions, len(fused) - attentions


def _attention(
    graph: _Graph, softmax: onnx.NodeProto, num_heads: int
) -> tuple[str, onnx.NodeProto, list[TensorProto]]:
    """The block around one Softmax: (its output tensor, the Attention node, its weights)."""
    masked = graph.made_by(softmax.input[0], "Add")
    scores = next(
        (graph.producer[i] for i in masked.input if _op(graph, i) == "MatMul"),
        None,
    )
    if scores is None:
        raise FusionError(f"{softmax.name} does not read Q·Kᵀ")
    query, key = graph.projection(scores.input[0]), graph.projection(scores.input[1])
    node = graph.only_reader(softmax.output[0], skip={"IsNaN"})
    for _ in range(MAX_PATH):  # through the guard that zeroes fully masked rows
        if node.op_type == "MatMul":
            break
        node = graph.only_reader(node.output[0], skip={"IsNaN"})
    if node.op_type != "MatMul":
        raise FusionError(f"{softmax.name} is not followed by a product with V")
    value = graph.projection(node.input[1])
    if not query.x == key.x == value.x:
        raise FusionError(f"{softmax.name}: Q, K and V read different tensors")
    heads = graph.only_reader(node.output[0])
    merged = graph.only_reader(heads.output[0])
    if (heads.op_type, merged.op_type) != ("Transpose", "Reshape"):
        raise FusionError(f"{softmax.name}: the heads are not merged back by a reshape")
    output = merged.output[0]
    hidden = query.weight.shape[1]
    if hidden % num_heads or any(p.weight.shape[1] != hidden for p in (key, value)):
        raise FusionError(f"{softmax.name}: projections of unequal width")
    # The Attention node scales scores by 1/√(head size) and V not at all: so must the graph.
    expected = 1.0 / np.sqrt(hidden // num_heads)
    if abs(query.scale * key.scale - expected) > 1e-4 * expected or value.scale != 1.0:
        raise FusionError(
            f"{softmax.name}: scores scaled by {query.scale * key.scale:.6g}, "
            f"V by {value.scale:.6g}; the Attention node scales by {expected:.6g} and 1"
        )
    weight = numpy_helper.from_array(
        np.concatenate([query.weight, key.weight, value.weight], axis=1).astype(np.float32),
        f"{output}.qkv_weight",
    )
    bias = numpy_helper.from_array(
        np.concatenate([query.bias, key.bias, value.bias]).astype(np.float32),
        f"{output}.qkv_bias",
    )
    attention = helper.make_node(
        "Attention",
        [query.x, weight.name, bias.name, MASK_INT32],
        [output],
        name=f"{output}.attention",
        domain=MS_DOMAIN,
        num_heads=num_heads,
    )
    return output, attention, [weight, bias]


def _gelu(graph: _Graph, erf: onnx.NodeProto) -> tuple[str, onnx.NodeProto]:
    """``x · 0.5 · (1 + erf(x / √2))`` around one Erf: (its output, one Gelu node)."""
    divide = graph.made_by(erf.input[0], "Div")
    root_two = graph.constant(divide.input[1])
    if root_two is None or root_two.size != 1 or abs(float(root_two) - np.sqrt(2.0)) > 1e-3:
        raise FusionError(f"{erf.name} is not the erf form of GELU")
    x = divide.input[0]
    plus_one = graph.only_reader(erf.output[0])
    half = graph.only_reader(plus_one.output[0])
    times_x = graph.only_reader(half.output[0])
    shape = (plus_one.op_type, half.op_type, times_x.op_type)
    if shape != ("Add", "Mul", "Mul") or x not in times_x.input:
        raise FusionError(f"{erf.name} is not the erf form of GELU ({shape})")
    output = times_x.output[0]
    return output, helper.make_node("Gelu", [x], [output], name=f"{output}.gelu", domain=MS_DOMAIN)


def _op(graph: _Graph, name: str) -> str | None:
    node = graph.producer.get(name)
    return node.op_type if node is not None else None


def _replace_nodes(graph: onnx.GraphProto, nodes: list[onnx.NodeProto]) -> None:
    """Keep what the outputs need, in an order where every input is made before it is read."""
    producer = {out: node for node in nodes for out in node.output}
    live: dict[int, onnx.NodeProto] = {}
    stack = [o.name for o in graph.output]
    while stack:
        node = producer.get(stack.pop())
        if node is not None and id(node) not in live:
            live[id(node)] = node
            stack.extend(node.input)
    ready = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    ordered: list[onnx.NodeProto] = []
    pending = [n for n in nodes if id(n) in live]
    while pending:
        waiting = []
        for node in pending:
            if all(name in ready for name in node.input):
                ordered.append(node)
                ready.update(node.output)
            else:
                waiting.append(node)
        if len(waiting) == len(pending):
            raise FusionError("the rewritten graph has a cycle or an unmade input")
        pending = waiting
    read = {name for node in ordered for name in node.input}
    initializers = [t for t in graph.initializer if t.name in read]
    del graph.node[:]
    graph.node.extend(ordered)
    del graph.initializer[:]
    graph.initializer.extend(initializers)
