"""An int8 compute graph of the default embedding model, made once and probed in a child.

The bundled MiniLM stores int8 weights but computes in float: onnxruntime turns the
weights back into float matrices at load, so every matrix product runs in float32.
Re-quantising those products for int8 arithmetic (dynamic activations, per-channel
weights, constant weights only) embeds 1.4-1.7× faster at p50 on this project's machines
(``bench/route.py --compute float`` against the default) with vectors within 0.98 cosine
of the float ones. Before quantising, each layer's attention and GELU are fused into
single nodes (``graph_fusion``), which takes about a fifth more off a 64-token embedding.

int8 kernels differ between CPUs (VNNI, AMX...), and a kernel that faults would take
the daemon with it, so the graph is probed once in a child process: the child loads
it, embeds fixed sentences with both graphs and reports their cosines. Only a child
that exits cleanly with every cosine at or above ``MIN_COSINE`` lets the daemon use
the int8 graph; anything else (a crash, a hang, a drift, ``onnx`` missing) leaves it
on the float graph with a warning that names the cause. Graph and verdict are kept in
the user's cache dir (``$XDG_CACHE_HOME/localforge/embedding-int8``), keyed by the
source graph's digest, with one verdict per CPU (its model and feature flags), so a
new CPU is probed again and every data dir of one user shares one build.
``LOCALFORGE_INJECT_INT8_PROBE=crash|drift|hang`` makes the probe fail that way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from localforge.paths import Paths

log = logging.getLogger(__name__)

CACHE_SUBDIR = "embedding-int8"
MIN_COSINE = 0.97
PROBE_TIMEOUT_S = 120.0
INJECT_ENV = "LOCALFORGE_INJECT_INT8_PROBE"
VERSION = 2  # of the recipe below: a new one makes and probes the graph again
PROBE_TEXTS = (
    "fix this error: KeyError: 'user' in my flask view",
    "What is the capital of Australia? Only the city name.",
    "Prove that every finite integral domain is a field.",
    "Summarise this paragraph in two sentences for a newsletter.",
    "A train leaves at 3 pm at 80 km/h; when has it gone 200 km?",
    "Why does ice float on water, while most solids sink in their own liquid?",
    "def merge(a, b):\n    # merge two sorted lists into one sorted list\n    ...",
    "¿Cuál es la mejor manera de aprender a programar en Rust?",
)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str
    cpu: str
    min_cosine: float | None = None


def cpu_fingerprint() -> str:
    """The CPU's model and feature flags (what decides which int8 kernels run), hashed."""
    try:
        lines = Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
    except OSError:
        import platform

        lines = [platform.machine(), platform.processor()]
    wanted = [
        line for line in lines if line.startswith(("model name", "flags", "Features", "CPU part"))
    ]
    return hashlib.sha256("\n".join(sorted(set(wanted))).encode()).hexdigest()[:16]


def int8_graph(
    model_dir: Path,
    digest: str,
    *,
    cache_root: Path | None = None,
    probe_timeout_s: float = PROBE_TIMEOUT_S,
) -> Path | None:
    """The int8 graph for ``model_dir/model.onnx`` (sha256 ``digest``) if this CPU passed
    its probe, else None."""
    root = cache_root if cache_root is not None else Paths.from_env().cache_dir / CACHE_SUBDIR
    store = root / f"{digest[:16]}-v{VERSION}"
    target = store / "model.onnx"
    cpu = cpu_fingerprint()
    verdict_file = store / f"verdict-{cpu}.json"
    verdict = _read_verdict(verdict_file)
    if verdict is None or not target.is_file():
        store.mkdir(parents=True, exist_ok=True)
        verdict = _make_and_probe(model_dir, target, cpu, probe_timeout_s)
        _write_verdict(verdict_file, verdict)
        if verdict.ok:
            log.info("int8 embedding graph ready: %s", verdict.reason)
        else:
            log.warning(
                'embedding stays on the float graph: %s (set embedding.compute = "float" to '
                "skip this probe)",
                verdict.reason,
            )
    return target if verdict.ok and target.is_file() else None


def _read_verdict(path: Path) -> Verdict | None:
    try:
        data = json.loads(path.read_text())
        return Verdict(**data)
    except (OSError, ValueError, TypeError):
        return None


def _write_verdict(path: Path, verdict: Verdict) -> None:
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # two processes may probe
    staging.write_text(json.dumps(asdict(verdict)) + "\n")
    os.replace(staging, path)


def _make_and_probe(model_dir: Path, target: Path, cpu: str, timeout_s: float) -> Verdict:
    try:
        if not target.is_file():
            _quantise(model_dir / "model.onnx", target)
    except ImportError as exc:
        return Verdict(False, f"cannot build the int8 graph: {exc} (run 'make setup')", cpu)
    except Exception as exc:  # onnx and onnxruntime.quantization raise many types
        target.unlink(missing_ok=True)
        return Verdict(False, f"building the int8 graph failed: {exc}", cpu)
    return probe(model_dir / "model.onnx", target, cpu, timeout_s)


def _quantise(source: Path, target: Path) -> None:
    """Fold the stored weights into float, fuse attention and GELU (graph_fusion), then
    quantise the products with constant weights."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from localforge.memory.graph_fusion import FusionError, fuse, heads_in_config

    with tempfile.TemporaryDirectory(prefix=".int8-", dir=target.parent) as work:
        folded = fold(source, Path(work) / "folded.onnx")
        model = onnx.load(str(folded))
        try:
            attentions, gelus = fuse(model, heads_in_config(source.parent))
        except FusionError as exc:
            log.warning("embedding graph quantised unfused: %s", exc)
        else:
            onnx.save(model, str(folded))
            log.info("embedding graph: %d attention blocks and %d GELUs fused", attentions, gelus)
        staging = Path(work) / "int8.onnx"
        logging.getLogger("root").disabled = True  # quantize_dynamic's advice to preprocess
        try:
            quantize_dynamic(
                str(folded),
                str(staging),
                weight_type=QuantType.QInt8,
                per_channel=True,
                extra_options={
                    "MatMulConstBOnly": True,
                    # fused nodes' outputs have no inferred type (their domain is onnxruntime's)
                    "DefaultTensorType": onnx.TensorProto.FLOAT,
                },
            )
        finally:
            logging.getLogger("root").disabled = False
        os.replace(staging, target)


def fold(source: Path, target: Path) -> Path:
    """``source`` with its stored int8 weights turned into float constants, at ``target``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(target)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    return target


def probe(float_graph: Path, int8_graph: Path, cpu: str, timeout_s: float) -> Verdict:
    """Run both graphs in a child process; only a clean exit with close vectors passes."""
    command = [sys.executable, "-m", "localforge.memory.int8_compute"]
    command += [str(float_graph), str(int8_graph)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return Verdict(False, f"the int8 probe did not finish within {timeout_s:.0f} s", cpu)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Verdict(False, f"the int8 probe exited with status {done.returncode} ({tail})", cpu)
    try:
        lowest = float(json.loads(done.stdout.strip().splitlines()[-1])["min_cosine"])
    except (ValueError, KeyError, IndexError) as exc:
        return Verdict(False, f"the int8 probe printed no result ({exc})", cpu)
    if lowest < MIN_COSINE:
        return Verdict(
            False,
            f"int8 vectors drift from the float ones (cosine {lowest:.4f} < {MIN_COSINE})",
            cpu,
            min_cosine=lowest,
        )
    return Verdict(True, f"probed on this CPU, lowest cosine {lowest:.4f}", cpu, min_cosine=lowest)


def _mean_pooled(session: Any, tokenizer: Any, texts: list[str]) -> np.ndarray:
    """Unit mean-pooled vectors of ``texts`` run as one batch, padded to the longest."""
    encodings = tokenizer.encode_batch(texts)
    ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
    mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    wanted = {i.name for i in session.get_inputs()}
    hidden = session.run(None, {k: v for k, v in feed.items() if k in wanted})[0]
    vectors = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    return np.asarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), dtype=np.float64)


def _probe_main(float_graph: str, int8_graph: str) -> int:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    injected = os.environ.get(INJECT_ENV, "")
    if injected == "crash":
        os.abort()
    if injected == "hang":
        import time

        time.sleep(3600)
    tokenizer = Tokenizer.from_file(str(Path(float_graph).parent / "tokenizer.json"))
    tokenizer.enable_padding()
    sessions = [
        ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        for path in (float_graph, int8_graph)
    ]
    cosines: list[float] = []
    # each text alone, then all in one padded batch (the padding mask must hold)
    for batch in [[text] for text in PROBE_TEXTS] + [list(PROBE_TEXTS)]:
        reference, candidate = (_mean_pooled(s, tokenizer, batch) for s in sessions)
        if injected == "drift":
            candidate = np.roll(candidate, 1, axis=1)
        cosines.extend(np.sum(reference * candidate, axis=1).tolist())
    sys.stdout.write(json.dumps({"min_cosine": min(cosines)}) + "\n")  # to the parent
    return 0


if __name__ == "__main__":
    sys.exit(_probe_main(sys.argv[1], sys.argv[2]))
