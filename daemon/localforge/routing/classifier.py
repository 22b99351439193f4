"""Task classification on the request path: a query in, a task type and its probabilities out.

The trained TF-IDF vocabularies, idf weights and logistic-regression coefficients
are applied directly: tokenise with the training regex, count the word n-grams and
the character n-grams (within words, as scikit-learn's ``char_wb``) found in the
vocabularies, weight each block (sublinear tf × idf, L2-normalised) and take the
dot product with the coefficients of those few features only. That is the same
arithmetic as scikit-learn's ``predict_proba`` at a fraction of its per-call
cost, and it needs no scikit-learn at run time.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from localforge.errors import InvalidParams, LocalForgeError, Unavailable
from localforge.routing import artifact as artifacts
from localforge.routing.answer_format import FORMAT_RULES_VERSION, split_format

if TYPE_CHECKING:
    from localforge.settings import ClassifierSettings

log = logging.getLogger(__name__)

LABELS = ("coding", "math", "reasoning", "instruction", "hard_reasoning", "general")
FALLBACK_LABEL = "general"
# Two readings of one request that routing treats alike: a computation is math at any level
# and hard_reasoning when it is graduate science, and a query between them is either (lfd
# train's "fair" accuracy accepts both). Their probabilities count together for the fallback.
SHARED_READINGS: Mapping[str, str] = {"math": "hard_reasoning", "hard_reasoning": "math"}


def shared_confidence(
    probs: np.ndarray, labels: Sequence[str] = LABELS
) -> tuple[np.ndarray, np.ndarray]:
    """Per row of probabilities (columns in ``labels`` order): the top label's index, and its
    probability with its shared reading's added."""
    probs = np.atleast_2d(probs)
    top = probs.argmax(axis=1)
    backed = probs[np.arange(len(top)), top]
    for label, other in SHARED_READINGS.items():
        if label in labels and other in labels:
            mine = top == labels.index(label)
            backed = np.where(mine, backed + probs[:, labels.index(other)], backed)
    return top, backed


def routed_indices(
    probs: np.ndarray, min_confidence: float, labels: Sequence[str] = LABELS
) -> np.ndarray:
    """Per row, the label routing acts on: the top one when it reaches ``min_confidence``
    alone or with its shared reading (``shared_confidence``), else general."""
    top, backed = shared_confidence(probs, labels)
    return np.where(backed >= min_confidence, top, labels.index(FALLBACK_LABEL))


CHAR_WINDOW = 2000  # characters seen by the character n-grams: head and tail of a longer text


_DIGIT = re.compile(r"\d")


def fold_digits(text: str) -> str:
    """Every script's decimal digits as ASCII ones, so that a number reads as a number in any
    script: "৪৫টি আম" and "４５個" carry the "45" that a word problem in English does."""
    if text.isascii():
        return text
    return _DIGIT.sub(lambda digit: str(unicodedata.digit(digit.group())), text)


def char_window(text: str, window: int = CHAR_WINDOW) -> str:
    """The text the character n-grams read: all of it, or its first 3/4 and last 1/4 window."""
    if len(text) <= window:
        return text
    tail = window // 4
    return text[: window - tail] + " " + text[len(text) - tail :]


def char_ngrams(text: str, low: int, high: int, window: int = CHAR_WINDOW) -> list[str]:
    """Lower-cased character n-grams inside space-padded words (scikit-learn's ``char_wb``).

    Used both as the training vectorizer's analyzer and on the hot path, so the two agree.
    """
    grams: list[str] = []
    for word in char_window(text, window).lower().split():
        grams.extend(word_ngrams(word, low, high))
    return grams


def word_ngrams(word: str, low: int, high: int) -> list[str]:
    """The character n-grams of one lower-cased word, padded with a space on each side."""
    padded = f" {word} "
    size = len(padded)
    grams: list[str] = []
    for n in range(low, high + 1):
        if size <= n:  # a short word counts once, whole
            grams.append(padded)
            break
        grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams


WORD_CACHE_SIZE = 50_000  # words whose character n-gram features are remembered


@dataclass(frozen=True)
class TextScores:
    """A text's logits from its words and character n-grams, before the embedding's part."""

    logits: np.ndarray  # read-only
    known: bool  # any of its features is in the vocabularies
    skipped_text: str = ""  # what the n-grams did not read: answer format, template, examples


@dataclass(frozen=True)
class Classification:
    task_type: str
    confidence: float
    probabilities: dict[str, float]
    routed_task_type: str
    reason: str
    skipped_text: str = ""  # the answer-format clauses, template markup or examples not read

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_type": self.task_type,
            "confidence": self.confidence,
            "probabilities": self.probabilities,
            "routed_task_type": self.routed_task_type,
            "reason": self.reason,
            "skipped_text": self.skipped_text,
        }


class TaskClassifier:
    """A loaded artifact; ``classify`` is pure and thread-safe."""

    def __init__(
        self, loaded: artifacts.Artifact, *, min_confidence: float = 0.6, max_chars: int = 4000
    ) -> None:
        meta = loaded.metadata
        self.metadata: dict[str, Any] = meta
        self.labels: tuple[str, ...] = loaded.labels
        self.min_confidence = min_confidence
        self.max_chars = max_chars
        tokens = meta["tokenizer"]
        self._token_re = re.compile(tokens["token_pattern"])
        self._lowercase = bool(tokens.get("lowercase", True))
        self._ngram_max = int(tokens["ngram_range"][1])
        if int(tokens["ngram_range"][0]) != 1 or self._ngram_max not in (1, 2):
            raise Unavailable(
                f"classifier artifact uses n-grams {tokens['ngram_range']}; "
                "this lfd reads (1, 1) and (1, 2): retrain it with 'lfd train'"
            )
        self._sublinear = bool(tokens.get("sublinear_tf", True))
        self._drop_format = self._format_mode(tokens.get("format_clauses"))
        self._fold_digits = tokens.get("digits") == "ascii"
        self._vocab: dict[str, int] = {term: i for i, term in enumerate(loaded.vocabulary.tolist())}
        n_terms = len(self._vocab)
        chars = tokens.get("char") or {}
        low, high = (int(n) for n in chars.get("ngram_range", (0, 0)))
        self._char_low, self._char_high = low, high
        self._char_window = int(chars.get("window", CHAR_WINDOW))
        self._char_weight = float(chars.get("weight", 1.0))
        self._char_vocab: dict[str, int] = {
            gram: i for i, gram in enumerate(loaded.char_vocabulary.tolist())
        }
        self._word_cache: dict[str, tuple[int, ...]] = {}
        n_chars = len(self._char_vocab)
        coef = np.asarray(loaded.coef, dtype=np.float64)
        # Row per feature, so the few active features are one fancy-indexed slice.
        self._coef_terms = np.ascontiguousarray(coef[:, :n_terms].T)
        self._coef_chars = np.ascontiguousarray(coef[:, n_terms : n_terms + n_chars].T)
        self._coef_embedding = np.ascontiguousarray(coef[:, n_terms + n_chars :])
        self._idf = np.asarray(loaded.idf, dtype=np.float64)
        self._char_idf = np.asarray(loaded.char_idf, dtype=np.float64)
        self._intercept = np.asarray(loaded.intercept, dtype=np.float64)
        embedding = meta.get("embedding") or {}
        self._embedding_dim = int(embedding.get("dim") or 0)
        self.needs_embedding: bool = self._embedding_dim != 0
        self._embedding_weight = float(embedding.get("weight") or 0.0)
        self._temperature = float(meta.get("temperature", 1.0))
        self._uniform = {label: round(1.0 / len(self.labels), 6) for label in self.labels}

    @staticmethod
    def _format_mode(described: Mapping[str, Any] | None) -> bool:
        """Whether the artifact reads queries without their answer-format clauses."""
        if not described:
            return False
        rules = int(described.get("rules", 0))
        if described.get("mode") != "drop" or not 1 <= rules <= FORMAT_RULES_VERSION:
            raise Unavailable(
                f"classifier artifact uses answer-format rules {described}; this lfd knows "
                f"versions 1 to {FORMAT_RULES_VERSION}: upgrade lfd or retrain with 'lfd train'"
            )
        return True

    @classmethod
    def load(
        cls, path: Path | None = None, *, min_confidence: float = 0.6, max_chars: int = 4000
    ) -> TaskClassifier:
        return cls(
            artifacts.load(path or artifacts.bundled_path()),
            min_confidence=min_confidence,
            max_chars=max_chars,
        )

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unknown"))

    @property
    def features(self) -> str:
        return str(self.metadata.get("features", "tfidf"))

    # --- the hot path -------------------------------------------------------

    def scores(
        self,
        text: str,
        embedding: np.ndarray | None = None,
        *,
        prepared: TextScores | None = None,
    ) -> np.ndarray | None:
        """Raw logits (before temperature), or None when the text has no known feature.

        ``prepared`` is ``text_scores(text)`` computed beforehand (while the query was embedded).
        """
        part = prepared if prepared is not None else self.text_scores(text)
        if self.needs_embedding:
            vector = self._check_embedding(embedding)
            return part.logits + self._coef_embedding @ (vector * self._embedding_weight)
        return part.logits if part.known else None

    def text_scores(self, text: str) -> TextScores:
        """The logits of the text's own features, words and character n-grams: the part of
        classifying that does not need the embedding, so it can run while the query is
        embedded (onnxruntime releases the GIL)."""
        text = text[: self.max_chars]
        skipped = ""
        if self._drop_format:
            text, skipped = split_format(text)
        if self._fold_digits:
            text = fold_digits(text)
        doc = text.lower() if self._lowercase else text
        tokens = self._token_re.findall(doc)
        vocab = self._vocab
        counts: dict[int, int] = {}
        for token in tokens:
            index = vocab.get(token)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        if self._ngram_max == 2:
            for first, second in itertools.pairwise(tokens):
                index = vocab.get(first + " " + second)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
        logits = self._intercept.copy()
        known = self._add_block(logits, counts, self._idf, self._coef_terms, 1.0)
        if self._char_vocab:
            words = char_window(text, self._char_window).lower().split()
            char_counts = Counter(itertools.chain.from_iterable(map(self._word_features, words)))
            known |= self._add_block(
                logits, char_counts, self._char_idf, self._coef_chars, self._char_weight
            )
        logits.setflags(write=False)
        return TextScores(logits, known, skipped)

    def _word_features(self, word: str) -> tuple[int, ...]:
        """Vocabulary indices of a word's character n-grams, remembered per word."""
        found = self._word_cache.get(word)
        if found is None:
            vocab = self._char_vocab
            found = tuple(
                index
                for gram in word_ngrams(word, self._char_low, self._char_high)
                if (index := vocab.get(gram)) is not None
            )
            if len(self._word_cache) >= WORD_CACHE_SIZE:
                self._word_cache.clear()  # bounded; common words come back at once
            self._word_cache[word] = found
        return found

    def _add_block(
        self,
        logits: np.ndarray,
        counts: Mapping[int, int],
        idf: np.ndarray,
        coef: np.ndarray,
        weight: float,
    ) -> bool:
        """Add one TF-IDF block's contribution (sublinear tf × idf, L2-normalised)."""
        if not counts:
            return False
        indices = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self._sublinear:
            tf = np.log(tf) + 1.0
        weights = tf * idf[indices]
        weights *= weight / math.sqrt(float(weights @ weights))
        logits += weights @ coef[indices]
        return True

    def probabilities(self, text: str, embedding: np.ndarray | None = None) -> np.ndarray | None:
        return self._softmax(self.scores(text, embedding))

    def _softmax(self, logits: np.ndarray | None) -> np.ndarray | None:
        """Probabilities of the labels at the artifact's temperature (None stays None)."""
        if logits is None:
            return None
        logits = logits / self._temperature
        logits -= logits.max()
        exp = np.exp(logits)
        result: np.ndarray = exp / exp.sum()
        return result

    def classify(
        self,
        text: str,
        embedding: np.ndarray | None = None,
        *,
        prepared: TextScores | None = None,
    ) -> Classification:
        """``prepared``: ``text_scores(text)``, computed beforehand (else computed here)."""
        if not isinstance(text, str):
            raise InvalidParams(f"text must be a string, got {type(text).__name__}")
        text = text[: self.max_chars]
        if not text.strip():
            return self._fallback("empty query: routed as general")
        part = prepared if prepared is not None else self.text_scores(text)
        probs = self._softmax(self.scores(text, embedding, prepared=part))
        if probs is None:
            return self._fallback("no known words or symbols in the query: routed as general")
        best = int(probs.argmax())
        label = self.labels[best]
        confidence = float(probs[best])
        probabilities = {
            name: round(float(p), 6) for name, p in zip(self.labels, probs, strict=True)
        }
        routed = self.labels[int(routed_indices(probs, self.min_confidence, self.labels)[0])]
        threshold = f"{self.min_confidence:.2f}"
        if confidence >= self.min_confidence:
            reason = f"confidence {confidence:.2f} >= {threshold}: routed as {label}"
        elif routed != FALLBACK_LABEL:  # kept by its shared reading
            together = float(shared_confidence(probs, self.labels)[1][0])
            reason = (
                f"confidence {confidence:.2f} < {threshold}, but {label} and "
                f"{SHARED_READINGS[label]} together {together:.2f}: routed as {label}"
            )
        else:
            reason = f"confidence {confidence:.2f} < {threshold}: routed as {routed}"
        return Classification(
            label, round(confidence, 6), probabilities, routed, reason, part.skipped_text
        )

    def _fallback(self, reason: str) -> Classification:
        confidence = self._uniform[FALLBACK_LABEL]
        return Classification(
            FALLBACK_LABEL, confidence, dict(self._uniform), FALLBACK_LABEL, reason
        )

    def _check_embedding(self, embedding: np.ndarray | None) -> np.ndarray:
        if embedding is None:
            raise InvalidParams(
                f"classifier artifact {self.version} uses tfidf+embedding features and needs the "
                "query's sentence embedding; embed the query first, "
                "or set classifier.features = 'tfidf'"
            )
        vector = np.asarray(embedding, dtype=np.float64).reshape(-1)
        if vector.shape[0] != self._embedding_dim:
            raise InvalidParams(
                f"embedding has {vector.shape[0]} dimensions, the classifier was trained on "
                f"{self._embedding_dim} ({self.metadata['embedding'].get('model')}); "
                "use the same embedding model as the artifact"
            )
        return vector

    def describe(self) -> dict[str, Any]:
        metrics = self.metadata.get("metrics", {})
        return {
            "version": self.version,
            "features": self.features,
            "labels": list(self.labels),
            "min_confidence": self.min_confidence,
            "max_chars": self.max_chars,
            "needs_embedding": self.needs_embedding,
            "dev_accuracy": metrics.get("dev", {}).get("accuracy"),
            "dev_macro_f1": metrics.get("dev", {}).get("macro_f1"),
            "loso_accuracy": metrics.get("loso", {}).get("accuracy"),
            "trained_at": self.metadata.get("trained_at"),
        }


def artifact_path(settings: ClassifierSettings) -> Path:
    """The configured artifact, else the bundled one for the configured feature set."""
    return settings.artifact or artifacts.bundled_path(settings.features)


class ClassifierService:
    """Service "classifier": loads the artifact at start and serves ``classify``."""

    name = "classifier"
    restart_keys: tuple[str, ...] = (
        "classifier.",
    )  # the artifact and its thresholds load at start

    def __init__(self, settings: Callable[[], ClassifierSettings]) -> None:
        self._settings = settings
        self._classifier: TaskClassifier | None = None
        self._error: str | None = None
        self._path: Path | None = None

    @property
    def classifier(self) -> TaskClassifier:
        if self._classifier is None:
            raise Unavailable(
                self._error or "the task classifier is not loaded yet; try again shortly"
            )
        return self._classifier

    async def start(self) -> None:
        settings = self._settings()
        path = artifact_path(settings)
        try:
            self._classifier = await asyncio.to_thread(
                TaskClassifier.load,
                path,
                min_confidence=settings.min_confidence,
                max_chars=settings.max_chars,
            )
        except LocalForgeError as exc:
            # A bad artifact must not keep the daemon down: routing falls back to "general".
            self._error = exc.message
            log.error("task classifier not loaded: %s", exc.message)
            return
        self._path = path
        self._error = None
        log.info("task classifier %s loaded from %s", self._classifier.version, path)

    async def stop(self) -> None:
        self._classifier = None

    def settings_changed(self, changed: Sequence[str]) -> None:
        """Nothing to apply: settings are read per use, or need a restart (restart_keys)."""

    def status(self) -> dict[str, Any]:
        if self._classifier is None:
            state = "degraded" if self._error else "stopped"
            return {"state": state, "detail": self._error or "not loaded"}
        info = self._classifier.describe()
        accuracy = info["dev_accuracy"]
        shown = (
            f"dev accuracy {accuracy:.3f}" if isinstance(accuracy, float) else "dev accuracy n/a"
        )
        detail = (
            f"artifact {info['version']} ({info['features']}), "
            f"labels {', '.join(info['labels'])}, {shown}"
        )
        return {"state": "ready", "detail": detail, "artifact": str(self._path), **info}
