"""Train the task classifier deterministically, evaluate it, and export a portable artifact.

Model: TF-IDF over word uni+bigrams (plus single punctuation marks, which carry
code and math) and over character 2–4-grams inside words (robust to typos,
inflection and languages written without spaces) → multinomial logistic
regression with balanced class weights, optionally with the query's sentence
embedding appended as extra features.

Evaluation (see ``classifier_eval``): the eval file (the corpus dev split),
leave-one-source-out with sources of one origin held out together, and the
held-out files in ``data/heldout/`` that are never trained on. The softmax
temperature is fitted on the leave-one-source-out logits with every origin
weighted the same, so that confidence is calibrated for phrasings unlike the
training data and the largest origin (``data/`` itself) does not set it alone.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from localforge.errors import InvalidParams
from localforge.routing.answer_format import FORMAT_RULES_VERSION, split_format
from localforge.routing.artifact import Artifact
from localforge.routing.classifier import CHAR_WINDOW, LABELS, char_ngrams, fold_digits
from localforge.routing.classifier_eval import (
    evaluate,
    expected_calibration_error,
    fit_temperature,
    format_report,
    leave_one_group_out,
    origin_weights,
    outcome,
    softmax,
    source_group,
    summary,
)
from localforge.routing.corpus import (
    BENCHMARK_SOURCES,
    CORPUS_ENV,
    REPO_ROOT,
    Example,
    corpus_dir,
    default_data_files,
    default_eval_file,
    file_digest,
    heldout_files,
    heldout_wrappers_file,
    load_examples,
    own_data_files,
    read_examples,
    read_wrappers,
    usable,
    wrap_for_evaluation,
)

__all__ = [
    "BENCHMARK_SOURCES",
    "CORPUS_ENV",
    "REPO_ROOT",
    "Example",
    "corpus_dir",
    "default_data_files",
    "default_eval_file",
    "evaluate",
    "file_digest",
    "fit_temperature",
    "format_report",
    "heldout_files",
    "heldout_wrappers_file",
    "load_examples",
    "origin_weights",
    "own_data_files",
    "read_examples",
    "read_wrappers",
    "softmax",
    "usable",
    "wrap_for_evaluation",
]

log = logging.getLogger(__name__)

TOKEN_PATTERN = r"(?u)\b\w+\b|[^\w\s]"
SEED = 0
OWN_ORIGIN = "localforge"  # the origin of the repository's own data/ files
Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class TrainConfig:
    features: str = "tfidf"  # "tfidf" | "tfidf+embedding"
    max_features: int = 5000
    token_pattern: str = TOKEN_PATTERN
    ngram_range: tuple[int, int] = (1, 2)
    sublinear_tf: bool = True
    char_ngram_range: tuple[int, int] | None = (2, 4)
    char_max_features: int = 20000
    char_min_df: int = 2
    char_weight: float = 1.0
    c: float = 3.0
    drop_format_clauses: bool = True  # read the task without "Only the year."-style clauses
    fold_digits: bool = True  # read every script's digits as ASCII ones ("৪৫" as "45")
    embedding_weight: float = 0.5
    embedding_model: str | None = None
    embedding_tokens: int | None = None  # the embedder's token window, recorded in the artifact
    embedding_graph: str = "float"  # what computed the vectors (Embedder.graph_build), recorded
    calibration_folds: int = 5
    calibrate_by_origin: bool = True  # every origin weighs the same in the temperature fit
    loso: bool = True
    n_jobs: int = 2
    seed: int = SEED

    def describe(self) -> dict[str, Any]:
        return {
            "features": self.features,
            "max_features": self.max_features,
            "char_ngram_range": list(self.char_ngram_range) if self.char_ngram_range else None,
            "char_max_features": self.char_max_features if self.char_ngram_range else None,
            "embedding_weight": self.embedding_weight if self.features != "tfidf" else None,
            "C": self.c,
            "drop_format_clauses": self.drop_format_clauses,
            "fold_digits": self.fold_digits,
            "class_weight": "balanced",
            "seed": self.seed,
        }


@dataclass
class Fitted:
    vectorizer: Any
    model: Any
    config: TrainConfig
    char_vectorizer: Any = None

    def transform(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> Any:
        texts = task_texts(texts, self.config)
        chars = self.char_vectorizer.transform(texts) if self.char_vectorizer else None
        return _stack(self.vectorizer.transform(texts), chars, embeddings, self.config)

    def decision(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        result: np.ndarray = self.model.decision_function(self.transform(texts, embeddings))
        return result


@dataclass
class TrainResult:
    artifact: Artifact
    report: str
    metrics: dict[str, Any] = field(default_factory=dict)


# --- data ---------------------------------------------------------------------


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


def make_char_vectorizer(config: TrainConfig) -> Any:
    """Character n-grams with the hot path's own analyzer, so training and serving agree."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if config.char_ngram_range is None:
        return None
    low, high = config.char_ngram_range
    return TfidfVectorizer(
        analyzer=functools.partial(char_ngrams, low=low, high=high, window=CHAR_WINDOW),
        max_features=config.char_max_features,
        min_df=config.char_min_df,
        sublinear_tf=config.sublinear_tf,
        dtype=np.float64,
    )


def _stack(tfidf: Any, chars: Any, embeddings: np.ndarray | None, config: TrainConfig) -> Any:
    blocks = [tfidf]
    if chars is not None:
        blocks.append(chars * config.char_weight)
    if config.features == "tfidf+embedding":
        if embeddings is None:
            raise InvalidParams("tfidf+embedding features need the texts' embeddings")
        from scipy import sparse

        blocks.append(sparse.csr_matrix(embeddings * config.embedding_weight))
    if len(blocks) == 1:
        return tfidf
    from scipy import sparse

    return sparse.hstack(blocks).tocsr()


def task_texts(texts: Sequence[str], config: TrainConfig) -> list[str]:
    """What the n-gram features read: each text without its answer-format clauses, its digits
    in ASCII."""
    read = [split_format(text)[0] for text in texts] if config.drop_format_clauses else texts
    return [fold_digits(text) for text in read] if config.fold_digits else list(read)


def fit(
    texts: Sequence[str],
    labels: Sequence[str],
    config: TrainConfig,
    embeddings: np.ndarray | None = None,
) -> Fitted:
    from sklearn.linear_model import LogisticRegression

    texts = task_texts(texts, config)
    vectorizer = make_vectorizer(config)
    tfidf = vectorizer.fit_transform(texts)
    char_vectorizer = make_char_vectorizer(config)
    chars = char_vectorizer.fit_transform(texts) if char_vectorizer is not None else None
    model = LogisticRegression(
        C=config.c, class_weight="balanced", max_iter=3000, random_state=config.seed
    )
    model.fit(_stack(tfidf, chars, embeddings, config), list(labels))
    return Fitted(vectorizer, model, config, char_vectorizer)


def _fold_runner(
    texts: list[str], y: list[str], config: TrainConfig, embeddings: np.ndarray | None
) -> Callable[[list[int], list[int]], np.ndarray]:
    def run(train_idx: list[int], test_idx: list[int]) -> np.ndarray:
        fitted = fit(
            [texts[i] for i in train_idx],
            [y[i] for i in train_idx],
            config,
            _rows(embeddings, train_idx),
        )
        test = [texts[i] for i in test_idx]
        return _ordered(fitted, fitted.decision(test, _rows(embeddings, test_idx)))

    return run


def _out_of_fold_logits(
    texts: list[str], y: list[str], config: TrainConfig, embeddings: np.ndarray | None
) -> np.ndarray:
    from joblib import Parallel, delayed
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(config.calibration_folds, shuffle=True, random_state=config.seed)
    run = _fold_runner(texts, y, config, embeddings)
    splits = [(a.tolist(), b.tolist()) for a, b in folds.split(texts, y)]
    logits = np.zeros((len(texts), len(LABELS)))
    results = Parallel(n_jobs=config.n_jobs)(delayed(run)(a, b) for a, b in splits)
    for (_, test_idx), fold_logits in zip(splits, results, strict=True):
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


def leave_one_source_out(
    examples: Sequence[Example], config: TrainConfig, embeddings: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Out-of-group logits and metrics: each origin's sources held out together in turn."""
    texts, y = [e.text for e in examples], [e.label for e in examples]
    y_index = np.array([LABELS.index(label) for label in y])
    logits, per_group = leave_one_group_out(
        [e.source for e in examples],
        y_index,
        _fold_runner(texts, y, config, embeddings),
        n_jobs=config.n_jobs,
    )
    metrics = evaluate(y, [LABELS[i] for i in logits.argmax(axis=1)])
    metrics["per_group"] = per_group
    metrics["group_mean_accuracy"] = round(
        float(np.mean([g["accuracy"] for g in per_group.values()])), 4
    )
    return logits, metrics


# --- the whole run ------------------------------------------------------------


def train(
    data_files: Sequence[Path],
    eval_file: Path | None,
    config: TrainConfig,
    embed: Embed | None = None,
    heldout: Sequence[Path] = (),
) -> TrainResult:
    """Fit on ``data_files``, calibrate, evaluate (eval file, LOSO, held-out), export."""
    examples = load_examples(data_files)
    if not examples:
        raise InvalidParams("no training examples: pass --data FILE with labelled JSON lines")
    needs_embedding = config.features == "tfidf+embedding"
    if needs_embedding and embed is None:
        raise InvalidParams("tfidf+embedding features need an embedder")

    def vectors(texts: list[str]) -> np.ndarray | None:
        return embed(texts) if needs_embedding and embed else None

    texts = [e.text for e in examples]
    y = [e.label for e in examples]
    embeddings = vectors(texts)
    fitted = fit(texts, y, config, embeddings)
    y_index = np.array([LABELS.index(label) for label in y])
    metrics: dict[str, Any] = {}
    weights = None
    if config.loso and len(_origins(examples)) > 1:
        calibration_logits, metrics["loso"] = leave_one_source_out(examples, config, embeddings)
        calibrated_on = "leave-one-source-out"
        if config.calibrate_by_origin:
            weights = origin_weights([e.source for e in examples])
    else:
        calibration_logits = _out_of_fold_logits(texts, y, config, embeddings)
        calibrated_on = f"{config.calibration_folds}-fold out-of-fold"
    temperature = fit_temperature(calibration_logits, y_index, weights)
    if "loso" in metrics:
        metrics["loso"].update(outcome(calibration_logits, y_index, temperature))
        public = np.array([source_group(e.source) != OWN_ORIGIN for e in examples])
        if public.any() and not public.all():
            metrics["loso_public"] = summary(
                calibration_logits[public], y_index[public], temperature
            )
    metrics["calibration"] = {
        "temperature": temperature,
        "fitted_on": calibrated_on,
        "weighting": "per origin" if weights is not None else "per row",
        "accuracy": round(float((calibration_logits.argmax(axis=1) == y_index).mean()), 4),
        "ece_raw": expected_calibration_error(softmax(calibration_logits), y_index),
        "ece": expected_calibration_error(softmax(calibration_logits, temperature), y_index),
    }
    if eval_file is not None:
        dev_rows = load_examples([eval_file])
        metrics["dev"] = _evaluate(fitted, dev_rows, vectors, temperature)
        metrics["dev"]["file"] = eval_file.name
        wrappers = read_wrappers(heldout_wrappers_file()) if heldout else []
        if wrappers:
            wrapped = wrap_for_evaluation(dev_rows, wrappers)
            metrics["dev_wrapped"] = _evaluate(fitted, wrapped, vectors, temperature)
            metrics["dev_wrapped"]["wrappers"] = len(wrappers)
    if heldout:
        metrics["heldout"] = _evaluate(fitted, load_examples(heldout), vectors, temperature)
        metrics["heldout"]["files"] = [path.name for path in heldout]
    metrics["ood"] = _ood(metrics)

    artifact = export(fitted, temperature, metrics, file_digest(list(data_files)), config, examples)
    artifact.metadata["corpus"]["eval"] = file_digest([eval_file])[0] if eval_file else None
    artifact.metadata["corpus"]["heldout"] = file_digest(list(heldout))
    artifact.metadata["calibrated_on"] = calibrated_on
    artifact.metadata["corpus"]["excluded_sources"] = sorted(BENCHMARK_SOURCES)
    log.info("trained on %d examples from %d files", len(examples), len(data_files))
    return TrainResult(artifact, format_report(artifact.metadata), metrics)


def _origins(examples: Sequence[Example]) -> set[str]:
    return {source_group(e.source) for e in examples}


def _evaluate(
    fitted: Fitted,
    rows: Sequence[Example],
    vectors: Callable[[list[str]], np.ndarray | None],
    temperature: float,
) -> dict[str, Any]:
    texts = [e.text for e in rows]
    logits = _ordered(fitted, fitted.decision(texts, vectors(texts)))
    y = np.array([LABELS.index(e.label) for e in rows])
    result = summary(logits, y, temperature)
    result["ece_raw"] = expected_calibration_error(softmax(logits), y)
    predicted = logits.argmax(axis=1)
    result["per_source"] = {
        source: round(float(np.mean([predicted[i] == y[i] for i in idx])), 4)
        for source in sorted({e.source for e in rows})
        for idx in [[i for i, e in enumerate(rows) if e.source == source]]
    }
    return result


def _ood(metrics: dict[str, Any]) -> dict[str, Any]:
    """The out-of-distribution estimate: the lowest balanced accuracy of LOSO, held-out files
    and the dev split in held-out answer-format wrappers."""
    parts = (
        ("loso", "leave-one-source-out"),
        ("heldout", "held-out files"),
        ("dev_wrapped", "wrapped dev"),
    )
    sources = {name: metrics[key]["balanced_accuracy"] for key, name in parts if key in metrics}
    return {
        "estimate": min(sources.values()) if sources else None,
        "from": sources,
        "dev": metrics.get("dev", {}).get("balanced_accuracy"),
    }


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
    chars = fitted.char_vectorizer
    char_vocabulary = chars.get_feature_names_out() if chars is not None else np.zeros(0, str)
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
            "dim": int(coef.shape[1] - len(vocabulary) - len(char_vocabulary)),
            "weight": config.embedding_weight,
            "max_tokens": config.embedding_tokens,
            "graph": config.embedding_graph,
        }
    char_settings = None
    if chars is not None and config.char_ngram_range is not None:
        char_settings = {
            "analyzer": "char_wb",
            "ngram_range": list(config.char_ngram_range),
            "window": CHAR_WINDOW,
            "weight": config.char_weight,
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
            "char": char_settings,
            "format_clauses": (
                {"mode": "drop", "rules": FORMAT_RULES_VERSION}
                if config.drop_format_clauses
                else None
            ),
            "digits": "ascii" if config.fold_digits else None,
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
        char_vocabulary=np.asarray(char_vocabulary, dtype=str),
        char_idf=np.asarray(chars.idf_ if chars is not None else np.zeros(0), dtype=np.float64),
    )
