"""Train the task classifier deterministically, evaluate it, and export a portable artifact.

Model: TF-IDF over word uni+bigrams (plus single punctuation marks, which carry
code and math) → multinomial logistic regression with balanced class weights,
optionally with the query's sentence embedding appended as extra features.
Probabilities are calibrated by one temperature fitted on out-of-fold logits.

Evaluation: per-class precision/recall/F1, confusion matrix and accuracy on the
eval file, and leave-one-source-out accuracy (train without a source, test on
it), which is the number that predicts accuracy on queries unlike the corpus.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from localforge.errors import ConfigError, InvalidParams
from localforge.routing.artifact import Artifact
from localforge.routing.classifier import LABELS

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
CORPUS_ENV = "LOCALFORGE_CORPUS_DIR"
TOKEN_PATTERN = r"(?u)\b\w+\b|[^\w\s]"
SEED = 0
Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    source: str


@dataclass(frozen=True)
class TrainConfig:
    features: str = "tfidf"  # "tfidf" | "tfidf+embedding"
    max_features: int = 5000
    token_pattern: str = TOKEN_PATTERN
    ngram_range: tuple[int, int] = (1, 2)
    sublinear_tf: bool = True
    c: float = 3.0
    embedding_weight: float = 0.5
    embedding_model: str | None = None
    calibration_folds: int = 5
    loso: bool = True
    n_jobs: int = 2
    seed: int = SEED

    def describe(self) -> dict[str, Any]:
        return {
            "features": self.features,
            "max_features": self.max_features,
            "embedding_weight": self.embedding_weight if self.features != "tfidf" else None,
            "C": self.c,
            "class_weight": "balanced",
            "seed": self.seed,
        }


@dataclass
class Fitted:
    vectorizer: Any
    model: Any
    config: TrainConfig

    def transform(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> Any:
        return _stack(self.vectorizer.transform(texts), embeddings, self.config)

    def decision(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        result: np.ndarray = self.model.decision_function(self.transform(texts, embeddings))
        return result


@dataclass
class TrainResult:
    artifact: Artifact
    report: str
    metrics: dict[str, Any] = field(default_factory=dict)


# --- data ---------------------------------------------------------------------


def corpus_dir() -> Path:
    """The shared routing corpus: $LOCALFORGE_CORPUS_DIR, else ../shared/data/routing-corpus."""
    configured = os.environ.get(CORPUS_ENV)
    return (
        Path(configured) if configured else REPO_ROOT.parent / "shared" / "data" / "routing-corpus"
    )


def own_data_files() -> list[Path]:
    """The labelled additions kept in the repository's ``data/`` directory."""
    return sorted((REPO_ROOT / "data").glob("*.jsonl"))


def default_data_files() -> list[Path]:
    return [corpus_dir() / "train.jsonl", *own_data_files()]


def default_eval_file() -> Path:
    return corpus_dir() / "dev.jsonl"


def read_examples(path: Path) -> list[Example]:
    """Read ``{"text", "label", "source"?}`` lines; a bad line is an error naming file and line."""
    if not path.is_file():
        hint = f" (set {CORPUS_ENV} to the routing corpus)" if "routing-corpus" in str(path) else ""
        raise ConfigError(f"training data {path} does not exist{hint}")
    examples = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text, label = row["text"], row["label"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InvalidParams(
                    f'{path}:{number}: expected a JSON object with "text" and "label" ({exc})'
                ) from exc
            if label not in LABELS:
                raise InvalidParams(
                    f"{path}:{number}: unknown label {label!r}; use one of {', '.join(LABELS)}"
                )
            if not isinstance(text, str) or not text.strip():
                raise InvalidParams(f"{path}:{number}: text must be a non-empty string")
            examples.append(Example(text, label, str(row.get("source") or path.stem)))
    return examples


def file_digest(paths: Sequence[Path]) -> list[dict[str, Any]]:
    described = []
    for path in paths:
        data = path.read_bytes()
        described.append(
            {
                "name": path.name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "rows": sum(1 for line in data.splitlines() if line.strip()),
            }
        )
    return described


# --- fitting ------------------------------------------------------------------


def make_vectorizer(config: TrainConfig) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        lowercase=True,
        token_pattern=config.token_pattern,
        ngram_range=config.ngram_range,
        max_features=config.max_features,
        sublinear_tf=config.sublinear_tf,
        dtype=np.float64,
    )


def _stack(tfidf: Any, embeddings: np.ndarray | None, config: TrainConfig) -> Any:
    if config.features != "tfidf+embedding":
        return tfidf
    if embeddings is None:
        raise InvalidParams("tfidf+embedding features need the texts' embeddings")
    from scipy import sparse

    return sparse.hstack([tfidf, sparse.csr_matrix(embeddings * config.embedding_weight)]).tocsr()


def fit(
    texts: Sequence[str],
    labels: Sequence[str],
    config: TrainConfig,
    embeddings: np.ndarray | None = None,
) -> Fitted:
    from sklearn.linear_model import LogisticRegression

    vectorizer = make_vectorizer(config)
    tfidf = vectorizer.fit_transform(texts)
    model = LogisticRegression(
        C=config.c, class_weight="balanced", max_iter=3000, random_state=config.seed
    )
    model.fit(_stack(tfidf, embeddings, config), list(labels))
    return Fitted(vectorizer, model, config)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The softmax temperature minimising the negative log-likelihood (golden-section search)."""

    def nll(temperature: float) -> float:
        z = logits / temperature
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_p[np.arange(len(y)), y].mean())

    low, high = 0.05, 10.0
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if nll(a) < nll(b):
            high = b
        else:
            low = a
    return round((low + high) / 2, 6)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    result: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return result


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


def _out_of_fold_logits(
    texts: list[str], y: list[str], config: TrainConfig, embeddings: np.ndarray | None
) -> np.ndarray:
    from joblib import Parallel, delayed
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(config.calibration_folds, shuffle=True, random_state=config.seed)
    splits = list(folds.split(texts, y))

    def run(train_idx: np.ndarray, test_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        emb_train, emb_test = _rows(embeddings, train_idx), _rows(embeddings, test_idx)
        fitted = fit([texts[i] for i in train_idx], [y[i] for i in train_idx], config, emb_train)
        return test_idx, _ordered(fitted, fitted.decision([texts[i] for i in test_idx], emb_test))

    logits = np.zeros((len(texts), len(LABELS)))
    results = Parallel(n_jobs=config.n_jobs)(delayed(run)(a, b) for a, b in splits)
    for test_idx, fold_logits in results:
        logits[test_idx] = fold_logits
    return logits


def _rows(embeddings: np.ndarray | None, indices: Any) -> np.ndarray | None:
    return embeddings[indices] if embeddings is not None else None


def _ordered(fitted: Fitted, logits: np.ndarray) -> np.ndarray:
    """Logit columns in LABELS order (scikit-learn sorts class names)."""
    classes = list(fitted.model.classes_)
    missing = [label for label in LABELS if label not in classes]
    if missing:
        raise InvalidParams(
            f"training data has no examples of {', '.join(missing)}; every label needs some"
        )
    return logits[:, [classes.index(label) for label in LABELS]]


# --- evaluation ---------------------------------------------------------------


def evaluate(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=list(LABELS), zero_division=0
    )
    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
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


def leave_one_source_out(
    examples: Sequence[Example], config: TrainConfig, embeddings: np.ndarray | None = None
) -> dict[str, Any]:
    """Train without each source in turn and test on it; accuracy over all held-out rows."""
    from joblib import Parallel, delayed

    sources = sorted({e.source for e in examples})

    def run(source: str) -> tuple[str, list[str], list[str]]:
        train_idx = [i for i, e in enumerate(examples) if e.source != source]
        test_idx = [i for i, e in enumerate(examples) if e.source == source]
        fitted = fit(
            [examples[i].text for i in train_idx],
            [examples[i].label for i in train_idx],
            config,
            _rows(embeddings, train_idx),
        )
        test_x = fitted.transform([examples[i].text for i in test_idx], _rows(embeddings, test_idx))
        return source, [examples[i].label for i in test_idx], list(fitted.model.predict(test_x))

    results = Parallel(n_jobs=config.n_jobs)(delayed(run)(s) for s in sources)
    per_source = {}
    all_true: list[str] = []
    all_pred: list[str] = []
    for source, y_true, y_pred in results:
        correct = sum(a == b for a, b in zip(y_true, y_pred, strict=True))
        per_source[source] = {"accuracy": round(correct / len(y_true), 4), "n": len(y_true)}
        all_true += y_true
        all_pred += y_pred
    overall = evaluate(all_true, all_pred)
    return {
        "accuracy": overall["accuracy"],
        "macro_f1": overall["macro_f1"],
        "source_mean_accuracy": round(
            float(np.mean([s["accuracy"] for s in per_source.values()])), 4
        ),
        "per_source": per_source,
        "confusion": overall["confusion"],
    }


# --- the whole run ------------------------------------------------------------


def train(
    data_files: Sequence[Path],
    eval_file: Path | None,
    config: TrainConfig,
    embed: Embed | None = None,
) -> TrainResult:
    """Fit on ``data_files``, calibrate, evaluate on ``eval_file`` and LOSO; build the artifact."""
    examples = [e for path in data_files for e in read_examples(path)]
    if not examples:
        raise InvalidParams("no training examples: pass --data FILE with labelled JSON lines")
    needs_embedding = config.features == "tfidf+embedding"
    if needs_embedding and embed is None:
        raise InvalidParams("tfidf+embedding features need an embedder")
    texts = [e.text for e in examples]
    y = [e.label for e in examples]
    embeddings = embed(texts) if needs_embedding and embed else None

    fitted = fit(texts, y, config, embeddings)
    y_index = np.array([LABELS.index(label) for label in y])
    oof = _out_of_fold_logits(texts, y, config, embeddings)
    temperature = fit_temperature(oof, y_index)
    metrics: dict[str, Any] = {
        "calibration": {
            "temperature": temperature,
            "oof_accuracy": round(float((oof.argmax(axis=1) == y_index).mean()), 4),
            "oof_ece_raw": expected_calibration_error(softmax(oof), y_index),
            "oof_ece": expected_calibration_error(softmax(oof, temperature), y_index),
        }
    }
    if eval_file is not None:
        dev = read_examples(eval_file)
        dev_texts = [e.text for e in dev]
        dev_emb = embed(dev_texts) if needs_embedding and embed else None
        dev_logits = _ordered(fitted, fitted.decision(dev_texts, dev_emb))
        dev_y = np.array([LABELS.index(e.label) for e in dev])
        metrics["dev"] = evaluate(
            [e.label for e in dev], [LABELS[i] for i in dev_logits.argmax(axis=1)]
        )
        metrics["dev"]["ece_raw"] = expected_calibration_error(softmax(dev_logits), dev_y)
        metrics["dev"]["ece"] = expected_calibration_error(softmax(dev_logits, temperature), dev_y)
        metrics["dev"]["file"] = eval_file.name
    if config.loso:
        metrics["loso"] = leave_one_source_out(examples, config, embeddings)

    files = list(data_files) + ([eval_file] if eval_file else [])
    artifact = export(fitted, temperature, metrics, file_digest(list(data_files)), config, examples)
    artifact.metadata["corpus"]["eval"] = file_digest([eval_file])[0] if eval_file else None
    log.info("trained on %d examples from %d files", len(examples), len(files))
    return TrainResult(artifact, format_report(artifact.metadata), metrics)


def export(
    fitted: Fitted,
    temperature: float,
    metrics: dict[str, Any],
    files: list[dict[str, Any]],
    config: TrainConfig,
    examples: Sequence[Example],
) -> Artifact:
    import sklearn

    vocabulary = fitted.vectorizer.get_feature_names_out()
    classes = list(fitted.model.classes_)
    order = [classes.index(label) for label in LABELS]
    coef = np.asarray(fitted.model.coef_, dtype=np.float64)[order]
    intercept = np.asarray(fitted.model.intercept_, dtype=np.float64)[order]
    corpus_hash = hashlib.sha256("".join(f["sha256"] for f in files).encode()).hexdigest()
    trained_at = datetime.now(UTC).replace(microsecond=0)
    embedding = None
    if config.features == "tfidf+embedding":
        embedding = {
            "model": config.embedding_model,
            "dim": int(coef.shape[1] - len(vocabulary)),
            "weight": config.embedding_weight,
        }
    sources: dict[str, int] = {}
    for e in examples:
        sources[e.source] = sources.get(e.source, 0) + 1
    metadata = {
        "name": "task-classifier",
        "version": f"{trained_at:%Y.%m.%d}-{corpus_hash[:8]}" + ("-emb" if embedding else ""),
        "labels": list(LABELS),
        "features": config.features,
        "tokenizer": {
            "lowercase": True,
            "token_pattern": config.token_pattern,
            "ngram_range": list(config.ngram_range),
            "sublinear_tf": config.sublinear_tf,
            "norm": "l2",
        },
        "embedding": embedding,
        "temperature": temperature,
        "model": config.describe(),
        "corpus": {"hash": corpus_hash, "files": files, "sources": dict(sorted(sources.items()))},
        "trained_at": trained_at.isoformat(),
        "sklearn_version": sklearn.__version__,
        "metrics": metrics,
    }
    return Artifact(
        vocabulary=np.asarray(vocabulary, dtype=str),
        idf=np.asarray(fitted.vectorizer.idf_, dtype=np.float64),
        coef=coef,
        intercept=intercept,
        metadata=metadata,
    )


def format_report(metadata: dict[str, Any]) -> str:
    metrics = metadata["metrics"]
    lines = [f"task classifier {metadata['version']}  features={metadata['features']}"]
    dev = metrics.get("dev")
    if dev:
        lines.append(f"\neval {dev['file']} ({dev['n']} rows)")
        lines.append(f"{'label':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
        for label, row in dev["per_class"].items():
            lines.append(
                f"{label:<16}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}{row['support']:>9}"
            )
        lines.append("\nconfusion (rows = true, columns = predicted)")
        short = [label[:8] for label in LABELS]
        lines.append(" " * 16 + "".join(f"{s:>9}" for s in short))
        for label, row in zip(LABELS, dev["confusion"], strict=True):
            lines.append(f"{label:<16}" + "".join(f"{v:>9}" for v in row))
        lines.append(f"\naccuracy {dev['accuracy']:.4f}  macro-F1 {dev['macro_f1']:.4f}")
        lines.append(
            f"calibration ECE {dev['ece_raw']:.4f} raw -> {dev['ece']:.4f} "
            f"(temperature {metadata['temperature']})"
        )
    loso = metrics.get("loso")
    if loso:
        lines.append("\nleave-one-source-out (train without the source, test on it)")
        for source, row in loso["per_source"].items():
            lines.append(f"  {source:<30}{row['accuracy']:>8.3f}  n={row['n']}")
        lines.append(
            f"leave-one-source-out accuracy {loso['accuracy']:.4f}  "
            f"macro-F1 {loso['macro_f1']:.4f}  "
            f"mean over sources {loso['source_mean_accuracy']:.4f}"
        )
    return "\n".join(lines)
