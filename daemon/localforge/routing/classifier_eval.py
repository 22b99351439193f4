"""How good the task classifier is, in distribution and out of it.

- ``evaluate``: per-class precision/recall/F1, confusion matrix, accuracy and the
  label-balanced accuracy (mean recall), which is what a test set with about as
  many queries of each label measures.
- ``leave_one_group_out``: train without a group of sources, test on it. Sources of
  one origin form one group (the three CoNaLa derivations, the three Dolly
  selections, the two template sets, and every file the LocalForge developers
  wrote; a source's origin is the first word of its id), so a held-out group is a
  phrasing style the model has not seen. Its
  logits also calibrate the temperature, every origin weighted the same
  (``origin_weights``), so that confidence holds out of distribution rather than
  on texts like the training ones, and no one large group sets it alone.
- ``outcome``: the decision the router acts on: how often it falls back to general
  (confidence under ``min_confidence``, a shared reading's counted with the top
  label's: ``routed_indices``) against how often the top label is wrong.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from localforge.routing.classifier import FALLBACK_LABEL, LABELS, SHARED_READINGS, routed_indices

# Confusions an honest reader can make under the label definitions: a university computation
# is "computing an answer" (math) and "graduate-level science" (hard_reasoning) at once.
FAIR_CONFUSIONS = frozenset(SHARED_READINGS.items())


def source_group(source: str) -> str:
    """The origin of a source, the first word of its id: ``dolly-qa`` and ``dolly-passage``
    are both ``dolly``, every ``localforge-*`` file is ``localforge``."""
    return source.split("-", 1)[0]


def origin_weights(sources: Sequence[str]) -> np.ndarray:
    """Row weights under which every origin counts the same, however many rows it has."""
    groups = [source_group(s) for s in sources]
    sizes = Counter(groups)
    return np.asarray([1.0 / sizes[group] for group in groups])


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    result: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return result


def fit_temperature(logits: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The softmax temperature minimising the (row-weighted) negative log-likelihood
    (golden-section search)."""
    w = np.full(len(y), 1.0 / len(y)) if weights is None else weights / weights.sum()

    def nll(temperature: float) -> float:
        z = logits / temperature
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-(w * log_p[np.arange(len(y)), y]).sum())

    low, high = 0.05, 10.0
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if nll(a) < nll(b):
            high = b
        else:
            low = a
    return round((low + high) / 2, 6)


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return round(float(total), 4)


def evaluate(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=list(LABELS), zero_division=0
    )
    present = support > 0
    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "balanced_accuracy": round(float(np.mean(recall[present])), 4) if present.any() else 0.0,
        "fair_balanced_accuracy": fair_balanced_accuracy(y_true, y_pred),
        "macro_f1": round(float(np.mean(f1)), 4),
        "n": len(y_true),
        "per_class": {
            label: {
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(s),
            }
            for label, p, r, f, s in zip(LABELS, precision, recall, f1, support, strict=True)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=list(LABELS)).tolist(),
    }


def is_fair(truth: str, got: str) -> bool:
    """``got`` is the true label or its other honest reading (FAIR_CONFUSIONS)."""
    return got == truth or (truth, got) in FAIR_CONFUSIONS


def fair_balanced_accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Mean recall per label, where the other honest reading (FAIR_CONFUSIONS) counts as right."""
    recalls = []
    for label in LABELS:
        rows = [i for i, truth in enumerate(y_true) if truth == label]
        if rows:
            fair = sum(is_fair(label, y_pred[i]) for i in rows)
            recalls.append(fair / len(rows))
    return round(float(np.mean(recalls)), 4) if recalls else 0.0


def outcome(
    logits: np.ndarray, y: np.ndarray, temperature: float, min_confidence: float = 0.6
) -> dict[str, float]:
    """Fallback share against error rate (strict, and fair: the top label is neither the true
    one nor its shared reading), and accuracy after the fallback to general."""
    probs = softmax(logits, temperature)
    top = probs.argmax(axis=1)
    routed = routed_indices(probs, min_confidence)
    low = (probs.max(axis=1) < min_confidence) & (routed == LABELS.index(FALLBACK_LABEL))
    pairs = zip(y, top, strict=True)
    fair_wrong = np.asarray([not is_fair(LABELS[t], LABELS[p]) for t, p in pairs])
    return {
        "fallback_share": round(float(low.mean()), 4),
        "error_rate": round(float((top != y).mean()), 4),
        "fair_error_rate": round(float(fair_wrong.mean()), 4),
        "routed_accuracy": round(float((routed == y).mean()), 4),
        "ece": expected_calibration_error(probs, y),
    }


def summary(logits: np.ndarray, y: np.ndarray, temperature: float) -> dict[str, Any]:
    """``evaluate`` of the top label plus ``outcome`` of the routed one."""
    result = evaluate([LABELS[i] for i in y], [LABELS[i] for i in logits.argmax(axis=1)])
    result.update(outcome(logits, y, temperature))
    return result


Fold = Callable[[list[int], list[int]], np.ndarray]


def leave_one_group_out(
    sources: Sequence[str],
    y: np.ndarray,
    run_fold: Fold,
    n_jobs: int = 1,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Out-of-group logits for every row, and accuracy per held-out group.

    ``run_fold(train_rows, test_rows)`` fits on the first and returns logits for the
    second (columns in LABELS order).
    """
    from joblib import Parallel, delayed

    groups = [source_group(s) for s in sources]
    names = sorted(set(groups))
    if len(names) < 2:
        raise ValueError("leave-one-group-out needs sources from at least two origins")

    def run(name: str) -> tuple[list[int], np.ndarray]:
        train_rows = [i for i, g in enumerate(groups) if g != name]
        test_rows = [i for i, g in enumerate(groups) if g == name]
        return test_rows, run_fold(train_rows, test_rows)

    logits = np.zeros((len(groups), len(LABELS)))
    for test_rows, fold_logits in Parallel(n_jobs=n_jobs)(delayed(run)(n) for n in names):
        logits[test_rows] = fold_logits
    predicted = logits.argmax(axis=1)
    per_group = {}
    for name in names:
        rows = np.array([i for i, g in enumerate(groups) if g == name])
        per_group[name] = {
            "accuracy": round(float((predicted[rows] == y[rows]).mean()), 4),
            "n": len(rows),
            "sources": sorted({sources[i] for i in rows}),
        }
    return logits, per_group


def _weighting(metrics: dict[str, Any]) -> str:
    weighting = metrics.get("calibration", {}).get("weighting")
    return ", every origin weighted alike" if weighting == "per origin" else ""


def format_report(metadata: dict[str, Any]) -> str:
    metrics = metadata["metrics"]
    lines = [f"task classifier {metadata['version']}  features={metadata['features']}"]
    dev = metrics.get("dev")
    if dev:
        lines.append(f"\neval {dev['file']} ({dev['n']} rows)")
        lines.extend(_table(dev))
        lines.append(
            f"\naccuracy {dev['accuracy']:.4f}  macro-F1 {dev['macro_f1']:.4f}  "
            f"balanced {dev['balanced_accuracy']:.4f}"
        )
        lines.append(
            f"calibration ECE {dev['ece_raw']:.4f} raw -> {dev['ece']:.4f} "
            f"(temperature {metadata['temperature']}, fitted {metadata['calibrated_on']}"
            f"{_weighting(metrics)})"
        )
    loso = metrics.get("loso")
    if loso:
        lines.append(
            "\nleave-one-source-out (train without a source group, test on it; "
            "sources of one origin held out together)"
        )
        for group, row in loso["per_group"].items():
            lines.append(f"  {group:<30}{row['accuracy']:>8.3f}  n={row['n']}")
        lines.append(
            f"leave-one-source-out accuracy {loso['accuracy']:.4f}  "
            f"balanced {loso['balanced_accuracy']:.4f} "
            f"(fair {loso.get('fair_balanced_accuracy', 0.0):.4f})  macro-F1 {loso['macro_f1']:.4f}"
        )
        lines.append(_recalls(loso))
        lines.append(_routing(loso))
        public = metrics.get("loso_public")
        if public:
            lines.append(
                f"  sources by other authors only ({public['n']} rows): accuracy "
                f"{public['accuracy']:.4f}  balanced {public['balanced_accuracy']:.4f} "
                f"(fair {public['fair_balanced_accuracy']:.4f})"
            )
            lines.append("  " + _recalls(public))
            lines.append("  " + _routing(public))
    heldout = metrics.get("heldout")
    if heldout:
        lines.append(f"\nheld-out files (never trained on): {', '.join(heldout['files'])}")
        for source, accuracy in heldout["per_source"].items():
            lines.append(f"  {source:<30}{accuracy:>8.3f}")
        lines.append(
            f"held-out accuracy {heldout['accuracy']:.4f}  "
            f"balanced {heldout['balanced_accuracy']:.4f} "
            f"(fair {heldout.get('fair_balanced_accuracy', 0.0):.4f})"
        )
        lines.append(_recalls(heldout))
        lines.append(_routing(heldout))
    wrapped = metrics.get("dev_wrapped")
    if wrapped:
        lines.append(
            f"\ndev in {wrapped['wrappers']} held-out answer-format wrappers: "
            f"accuracy {wrapped['accuracy']:.4f}  balanced {wrapped['balanced_accuracy']:.4f}"
        )
        lines.append(_recalls(wrapped))
        lines.append(_routing(wrapped))
    ood = metrics.get("ood")
    if ood and ood.get("estimate") is not None:
        parts = ", ".join(f"{name} {value:.4f}" for name, value in ood["from"].items())
        dev_says = f"; dev says {ood['dev']:.4f}" if ood.get("dev") is not None else ""
        lines.append(
            f"\nout-of-distribution estimate (balanced accuracy) {ood['estimate']:.4f} "
            f"(the lowest of {parts}){dev_says}"
        )
    return "\n".join(lines)


def _table(metrics: dict[str, Any]) -> list[str]:
    lines = [f"{'label':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}"]
    for label, row in metrics["per_class"].items():
        lines.append(
            f"{label:<16}{row['precision']:>10.3f}{row['recall']:>10.3f}"
            f"{row['f1']:>10.3f}{row['support']:>9}"
        )
    lines.append("\nconfusion (rows = true, columns = predicted)")
    lines.append(" " * 16 + "".join(f"{label[:8]:>9}" for label in LABELS))
    for label, row in zip(LABELS, metrics["confusion"], strict=True):
        lines.append(f"{label:<16}" + "".join(f"{v:>9}" for v in row))
    return lines


def _recalls(metrics: dict[str, Any]) -> str:
    recalls = ", ".join(
        f"{label} {row['recall']:.2f}" for label, row in metrics["per_class"].items()
    )
    return f"  recall: {recalls}"


def _routing(metrics: dict[str, Any]) -> str:
    return (
        f"  routed as general (confidence < 0.6, math and hard_reasoning together) "
        f"{metrics['fallback_share']:.3f} "
        f"of queries; top label wrong {metrics['error_rate']:.3f} "
        f"(fair {metrics.get('fair_error_rate', metrics['error_rate']):.3f}); "
        f"accuracy after the fallback {metrics['routed_accuracy']:.4f}"
    )
