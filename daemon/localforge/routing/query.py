"""Reading a query for a decision: embed it, classify it and search the memory with it.

All three run in one trip off the event loop, on the embedding thread (the classifier may
use the vector, the search needs it). A classifier that scores a text in parts has its
words scored on a second thread while the query is embedded: onnxruntime releases the GIL,
so the two run at once and only the embedding's term is left after the vector arrives.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from localforge.errors import LocalForgeError
from localforge.memory.store import Neighbour

log = logging.getLogger(__name__)

Read = tuple[np.ndarray | None, dict[str, Any], dict[str, float]]  # vector, label, timings


class Classifies(Protocol):
    needs_embedding: bool
    max_chars: int
    min_confidence: float

    @property
    def version(self) -> str: ...

    @property
    def features(self) -> str: ...

    def classify(self, text: str, embedding: np.ndarray | None = None) -> Any: ...


@runtime_checkable
class ClassifiesInParts(Protocol):
    """A classifier whose text features can be scored apart, while the query is embedded."""

    def text_scores(self, text: str) -> Any: ...

    def classify(
        self, text: str, embedding: np.ndarray | None = None, *, prepared: Any = None
    ) -> Any: ...


@dataclass
class Search:
    """The memory search a decision asks for, and what it found (set on the embedding thread)."""

    limit: int
    models: list[str]
    found: list[Neighbour] | None = None
    error: LocalForgeError | None = None


def embedding_mismatch(classifier: Any, embedding_model: str) -> str | None:
    """Why ``classifier`` cannot read vectors of ``embedding_model``, or None when it can."""
    if not getattr(classifier, "needs_embedding", False):
        return None
    trained_on = (getattr(classifier, "metadata", None) or {}).get("embedding", {}).get("model")
    if trained_on is None or trained_on == embedding_model:
        return None
    return (
        f"classifier artifact {classifier.version} reads {trained_on} vectors but "
        f'embedding.model is {embedding_model}; set classifier.features = "tfidf" or use an '
        "artifact trained with this embedding ('lfd train')"
    )


def _unclassified(reason: str) -> dict[str, Any]:
    return {
        "task_type": "general",
        "confidence": 0.0,
        "probabilities": {},
        "routed_task_type": "general",
        "reason": reason,
        "skipped_text": "",
    }


class QueryReader:
    """Embeds, classifies and searches one query (blocking; run it on the embedding thread)."""

    def __init__(self) -> None:
        # Scores a query's words while it is embedded; the thread starts on first use.
        self._text_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="classify-text")

    def close(self) -> None:
        self._text_pool.shutdown(wait=False)

    def read(
        self,
        text: str,
        embed_one: Callable[[str], np.ndarray] | None,
        classifier: Classifies | None,
        unclassified_reason: str,
        *,
        strict: bool,
        search: Search | None,
        search_blocking: Callable[[np.ndarray, int, list[str]], list[Neighbour]],
    ) -> Read:
        """Routing goes on without the embedding or the label (``strict=False``, the label
        says why); ``strict`` raises instead."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        parts = classifier if isinstance(classifier, ClassifiesInParts) else None
        early = None
        if parts is not None and embed_one is not None:
            early = self._text_scores(parts, text)
        vector = embed_one(text) if embed_one is not None else None
        t1 = time.perf_counter()
        timings["embed"] = (t1 - t0) * 1000
        if classifier is None:
            result = _unclassified(unclassified_reason)
        else:
            use = vector if classifier.needs_embedding else None
            try:
                if early is not None and parts is not None:
                    classified = parts.classify(text, use, prepared=early.result())
                else:
                    classified = classifier.classify(text, use)
                result = dict(classified.to_dict())
            except Exception as exc:  # a broken artifact must not stop routing
                if strict:
                    raise
                log.exception("classifier failed; routing as general")
                result = _unclassified(f"classifier failed ({exc}): routed as general")
        t2 = time.perf_counter()
        timings["classify"] = (t2 - t1) * 1000
        if search is not None and vector is not None:
            try:
                search.found = search_blocking(vector, search.limit, search.models)
            except LocalForgeError as exc:
                search.error = exc
            timings["search"] = (time.perf_counter() - t2) * 1000
        return vector, result, timings

    def _text_scores(self, classifier: ClassifiesInParts, text: str) -> Future[Any] | None:
        try:
            return self._text_pool.submit(classifier.text_scores, text)
        except RuntimeError:  # closed: classify in one piece
            return None
