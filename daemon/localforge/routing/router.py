"""Service "router": classify → embed once → one memory search → score every model → record.

The router needs no loaded model to decide. Candidates come from a
``CandidateSource`` (the config, or the model manager); the classifier and the
memory are optional at any moment: without them the decision is made on the
remaining signals, and the trace says which were missing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

from localforge.errors import (
    ConfigError,
    InvalidParams,
    LocalForgeError,
    NotFound,
    Unavailable,
)
from localforge.memory.embedder import Embedder
from localforge.memory.interactions import Interaction, hash_text
from localforge.memory.scoring import memory_evidence
from localforge.memory.store import Neighbour
from localforge.memory.task_evidence import TaskEvidence
from localforge.routing.candidates import Candidate, CandidateSource
from localforge.routing.query import (
    Classifies,
    QueryReader,
    Read,
    Search,
    embedding_mismatch,
)
from localforge.routing.replay import parse_overrides, replay_rows
from localforge.routing.scorer import Scorer, Weights
from localforge.routing.task_shares import task_shares
from localforge.routing.trace import build_trace, compact_scores
from localforge.routing.tune import tune_rows
from localforge.settings import Settings

log = logging.getLogger(__name__)


T = TypeVar("T")
PREPARED_KEPT = 512  # texts whose embedding and label are kept for reuse


class RouterMemory(Protocol):
    """What the router needs of the memory: embed, search, remember, and the signals it keeps."""

    feedback: dict[str, tuple[float, int]]
    latency: dict[str, float]

    @property
    def embedder(self) -> Embedder: ...

    async def in_embed(self, fn: Callable[[], T]) -> T: ...

    async def search(
        self, vector: np.ndarray, limit: int, models: list[str]
    ) -> list[Neighbour]: ...

    def search_blocking(
        self, vector: np.ndarray, limit: int, models: list[str]
    ) -> list[Neighbour]: ...

    async def remember(self, interaction: Interaction) -> None: ...

    async def record_result(
        self, request_id: str, *, model: str, latency_ms: float, ok: bool, error: str | None
    ) -> Interaction: ...

    async def logged_decisions(
        self, last: int
    ) -> tuple[list[tuple[dict[str, Any], str, float, float, float]], int]: ...


@dataclass(frozen=True)
class Decision:
    request_id: str
    model: str
    task_type: str
    confidence: float
    trace: dict[str, Any]


def mixed_counts(
    counts: TaskEvidence,
    shares: dict[str, float],
    model: str,
    now: float,
    vector: np.ndarray | None = None,
    locality: float = 0.0,
) -> tuple[float, float]:
    """``model``'s decayed (successes, failures) over the task types, weighted by share, and
    near the query at ``vector`` by ``locality`` (``TaskEvidence.get``)."""
    successes = failures = 0.0
    for task, share in shares.items():
        s, f = counts.get(task, model, now, vector, locality)
        successes += share * s
        failures += share * f
    return successes, failures


def _skip_cooling(
    candidates: list[Candidate], *, forced: str | None
) -> tuple[list[Candidate], list[dict[str, Any]]]:
    """Leave out models that are cooling down, unless one is forced or all of them are."""
    cooling = [c for c in candidates if c.cooling_until is not None and c.name != forced]
    if not cooling or len(cooling) == len(candidates):
        return candidates, []
    skipped = [
        {"model": c.name, "retry_at": round(c.cooling_until or 0.0, 1), "reason": c.health}
        for c in cooling
    ]
    return [c for c in candidates if c not in cooling], skipped


class Router:
    name = "router"
    restart_keys: tuple[str, ...] = ("routing.seed",)  # the rest is read per decision

    def __init__(
        self,
        memory: RouterMemory,
        candidates: CandidateSource,
        settings: Callable[[], Settings],
        classifier: Callable[[], Classifies] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.memory = memory
        self.clock = clock
        self.rng = rng if rng is not None else np.random.default_rng(settings().routing.seed)
        self.candidates = candidates
        self._settings = settings
        self._classifier = classifier
        self._weights_for: tuple[Any, Weights] | None = None
        self._prepared: OrderedDict[str, tuple[tuple[str, str], np.ndarray, dict[str, Any]]] = (
            OrderedDict()
        )
        self.decisions = 0
        self.state = "stopped"
        self._reader = QueryReader()

    async def start(self) -> None:
        self.state = "ready"

    async def stop(self) -> None:
        self.state = "stopped"
        self._reader.close()

    def settings_changed(self, changed: Sequence[str]) -> None:
        """Nothing to apply: settings are read per use, or need a restart (restart_keys)."""

    def status(self) -> dict[str, Any]:
        weights = self.weights(self._settings())
        shown = ", ".join(f"{k} {v:.2f}" for k, v in weights.as_dict().items())
        return {
            "state": self.state,
            "detail": f"{self.decisions} decisions since start; weights {shown}",
            "decisions": self.decisions,
        }

    def weights(self, settings: Settings) -> Weights:
        cached = self._weights_for
        if cached is None or cached[0] is not settings.weights:
            cached = (settings.weights, Weights.from_settings(settings.weights))
            self._weights_for = cached
        return cached[1]

    # --- decide -----------------------------------------------------------

    async def route(
        self,
        text: str,
        *,
        model: str | None = None,
        kind: str = "chat",
        record: bool = True,
        among: Sequence[str] | None = None,
    ) -> Decision:
        """Decide which model answers ``text``; ``among`` limits the choice to those models."""
        started = time.perf_counter()
        if not text.strip():
            raise InvalidParams("the query text is empty; nothing to route")
        settings = self._settings()
        candidates = self.candidates.candidates()
        if not candidates:
            raise Unavailable(
                "no models are registered; add a [[models]] entry or a GGUF to a model dir"
            )
        names = [c.name for c in candidates]
        if model is not None and model not in names:
            raise NotFound(f"unknown model {model!r}; known models: {', '.join(names)}")
        if among:
            allowed = set(among)
            candidates = [c for c in candidates if c.name in allowed or c.name == model]
            if not candidates:
                raise NotFound(
                    f"none of {', '.join(among)} is registered; known models: {', '.join(names)}"
                )
        candidates, skipped = _skip_cooling(candidates, forced=model)
        names = [c.name for c in candidates]

        search = Search(settings.memory.top_k * len(names), names)
        vector, classification, timings = await self._prepared_query(text, search)
        if vector is not None and search.found is None:  # a prepared text: not searched yet
            search_started = time.perf_counter()
            try:
                search.found = await self.memory.search(vector, search.limit, names)
            except LocalForgeError as exc:
                search.error = exc
            timings["search"] = (time.perf_counter() - search_started) * 1000
        timings.setdefault("search", 0.0)
        neighbours: list[Neighbour] = search.found or []
        memory_note: str | None = None
        if vector is None:
            memory_note = "no embedding: memory neutral"
        elif search.error is not None:
            memory_note = f"memory unavailable ({search.error.message}): neutral"

        score_started = time.perf_counter()
        now = self.clock()
        task_type = classification["routed_task_type"]
        confidence = float(classification["confidence"])
        shares = task_shares(classification, settings.routing.task_share_min)
        same_task = settings.routing.same_task_memory
        # thompson: a model's evidence is all of its outcomes among the query's neighbourhood
        # (top_k × models nearest), so a posterior sharpens where a model is used often
        thompson = settings.routing.policy == "thompson"
        per_model = settings.memory.top_k * (len(names) if thompson else 1)
        counts = getattr(self.memory, "task_evidence", None)  # absent in a bare memory
        evidence = memory_evidence(
            neighbours,
            names,
            top_k=per_model,
            decay=settings.memory.decay,
            now=now,
            min_similarity=settings.routing.fallback_min_similarity,
            saturate=settings.routing.fallback_min_similarity if thompson else None,
            task_shares=shares if same_task else None,
            recency_half_life=settings.memory.neighbour_half_life,
            changed_at=counts.changes() if counts is not None else None,
        )
        other = sum(n.task_type not in shares for n in neighbours) if same_task else 0
        if other and memory_note is None:
            memory_note = f"ok; {other} neighbours of other task types are not evidence"
        weights = self.weights(settings)
        rated = getattr(self.memory, "rated", None)
        task_counts = (
            {
                name: mixed_counts(
                    counts, shares, name, now, vector, settings.routing.task_locality
                )
                for name in names
            }
            if thompson and counts is not None
            else None
        )
        selection = Scorer(weights, settings.routing, self.rng).score(
            candidates,
            task_type=task_type,
            confidence=confidence,
            evidence=evidence,
            feedback=self.memory.feedback,
            measured_latency=self.memory.latency,
            task_counts=task_counts,
            task_shares=shares,
            rated_share=rated.share(kind) if rated is not None else 1.0,
            kind=kind,
        )
        winner, reason = selection.winner, selection.reason
        if model is not None:
            winner, reason = (
                model,
                f"forced by the caller (the scores would pick {selection.winner})",
            )
        timings["score"] = (time.perf_counter() - score_started) * 1000

        request_id = str(uuid.uuid4())
        record_started = time.perf_counter()
        if record:
            store_text = settings.memory.store_text
            await self.memory.remember(
                Interaction(
                    request_id=request_id,
                    created_at=now,
                    kind=kind,
                    query_text=text if store_text else None,
                    query_hash=hash_text(text),
                    task_type=task_type,
                    confidence=confidence,
                    model=winner,
                    forced=model is not None,
                    scores=compact_scores(selection),
                    propensity=None if model is not None else selection.propensity,
                    embedding=vector,
                    embedding_model=self.memory.embedder.model_name if vector is not None else None,
                )
            )
        timings["record"] = (time.perf_counter() - record_started) * 1000
        timings["total"] = (time.perf_counter() - started) * 1000
        self.decisions += 1
        trace = build_trace(
            request_id=request_id,
            kind=kind,
            classification=classification,
            task_shares=shares,
            weights=weights,
            selection=selection,
            winner=winner,
            reason=reason,
            forced=model is not None,
            neighbours=len(neighbours),
            memory_note=memory_note,
            timings_ms=timings,
            recorded=record,
            skipped=skipped,
        )
        log.debug("routed %s to %s (%s)", request_id, winner, reason)
        return Decision(request_id, winner, task_type, confidence, trace)

    async def prepare(self, text: str) -> dict[str, Any]:
        """Embed and classify ``text`` now, so routing it later reuses both (editors' idle time)."""
        if not text.strip():
            return {"prepared": False}
        _, classification, timings = await self._prepared_query(text)
        return {"prepared": True, "task_type": classification["routed_task_type"], **timings}

    async def _prepared_query(self, text: str, search: Search | None = None) -> Read:
        """Embed and classify (and search, when asked), reusing the answer for a text seen
        recently (then the caller searches).

        Editors route every keystroke's context, and the context changes far less often
        than the keystrokes: the same text is embedded once.
        """
        key = hash_text(text)
        found = self._prepared.get(key)
        if found is not None and found[0] == self._preparation_version():
            self._prepared.move_to_end(key)
            return found[1], dict(found[2]), {"embed": 0.0, "classify": 0.0}
        vector, classification, timings = await self._embed_and_classify(text, search=search)
        if vector is not None and classification.get("probabilities"):
            self._prepared[key] = (self._preparation_version(), vector, dict(classification))
            while len(self._prepared) > PREPARED_KEPT:
                self._prepared.popitem(last=False)
        return vector, classification, timings

    def _preparation_version(self) -> tuple[str, str]:
        """What a cached embedding and label depend on: the embedding model and the artifact."""
        try:
            embedder = self.memory.embedder.model_name
        except LocalForgeError:
            embedder = ""
        try:
            classifier = self._classifier().version if self._classifier is not None else ""
        except LocalForgeError:
            classifier = ""
        return embedder, classifier

    async def classify(self, text: str) -> dict[str, Any]:
        """Label one query as routing would, with the artifact that labelled it."""
        if self._classifier is None:
            raise Unavailable("no task classifier is configured")
        classifier = self._classifier()  # Unavailable while the artifact is not loaded
        text = text[: classifier.max_chars]
        _, result, _ = await self._embed_and_classify(text, classifier, strict=True)
        return {
            **result,
            "artifact": classifier.version,
            "features": classifier.features,
            "min_confidence": classifier.min_confidence,
        }

    async def _embed_and_classify(
        self,
        text: str,
        classifier: Classifies | None = None,
        *,
        strict: bool = False,
        search: Search | None = None,
    ) -> Read:
        """Embed once, classify and run ``search``, in one trip to the embedding thread
        (``QueryReader``), with the embedder and classifier in force.

        Routing goes on without either part (``strict=False``); ``strict`` raises instead.
        """
        memory = self.memory
        embed_one: Callable[[str], np.ndarray] | None = None
        if classifier is None or classifier.needs_embedding:
            try:
                embed_one = self.memory.embedder.embed_one
            except Unavailable:
                if strict:
                    raise
        unclassified_reason = "no classifier configured: routed as general"
        if classifier is None and self._classifier is not None:
            try:
                classifier = self._classifier()
            except LocalForgeError as exc:
                unclassified_reason = f"classifier unavailable ({exc.message}): routed as general"
        if classifier is not None and embed_one is not None:
            mismatch = embedding_mismatch(classifier, self.memory.embedder.model_name)
            if mismatch is not None:
                if strict:
                    raise ConfigError(mismatch)
                classifier, unclassified_reason = None, f"{mismatch}: routed as general"

        def work() -> Read:
            return self._reader.read(
                text,
                embed_one,
                classifier,
                unclassified_reason,
                strict=strict,
                search=search,
                search_blocking=memory.search_blocking,
            )

        return await self.memory.in_embed(work)

    # --- offline replay -----------------------------------------------------

    async def replay(self, overrides: list[str], *, last: int, seed: int = 0) -> dict[str, Any]:
        """How ``overrides`` would have done on the newest ``last`` rated decisions."""
        settings = parse_overrides(overrides, self._settings())
        rows, missing = await self.memory.logged_decisions(last)
        report = await asyncio.to_thread(replay_rows, rows, settings, missing=missing, seed=seed)
        return {"set": list(overrides), **report}

    async def tune(self, *, last: int, seed: int = 0) -> dict[str, Any]:
        """Replay one-setting changes on the newest ``last`` rated decisions; the one to adopt."""
        rows, missing = await self.memory.logged_decisions(last)
        return await asyncio.to_thread(
            tune_rows, rows, self._settings(), missing=missing, seed=seed
        )

    # --- outcomes ---------------------------------------------------------

    async def record_result(
        self, request_id: str, *, model: str, latency_ms: float, ok: bool, error: str | None = None
    ) -> None:
        await self.memory.record_result(
            request_id, model=model, latency_ms=latency_ms, ok=ok, error=error
        )
