"""The router pipeline with fakes: one search per decision, forced models, missing classifier."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pytest

from localforge.errors import InvalidParams, NotFound, Unavailable
from localforge.memory.interactions import Interaction
from localforge.memory.store import Neighbour
from localforge.routing.candidates import Candidate, StaticCandidates
from localforge.routing.router import Router
from localforge.settings import Settings

T = TypeVar("T")


class FakeEmbedder:
    model_name = "fake-embedder"
    dim = 4

    def embed_one(self, text: str) -> np.ndarray:
        return np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)


@dataclass
class FakeMemory:
    neighbours: list[Neighbour] = field(default_factory=list)
    searches: list[tuple[int, list[str]]] = field(default_factory=list)
    remembered: list[Interaction] = field(default_factory=list)
    feedback: dict[str, tuple[float, int]] = field(default_factory=dict)
    latency: dict[str, float] = field(default_factory=dict)
    embedder: Any = field(default_factory=FakeEmbedder)
    blocking_searches: int = 0

    async def in_embed(self, fn: Callable[[], T]) -> T:
        return fn()

    async def search(self, vector: np.ndarray, limit: int, models: list[str]) -> list[Neighbour]:
        self.searches.append((limit, list(models)))
        return self.neighbours

    def search_blocking(self, vector: np.ndarray, limit: int, models: list[str]) -> list[Neighbour]:
        self.blocking_searches += 1
        self.searches.append((limit, list(models)))
        return self.neighbours

    async def remember(self, interaction: Interaction) -> None:
        self.remembered.append(interaction)

    async def record_result(
        self, request_id: str, *, model: str, latency_ms: float, ok: bool, error: str | None
    ) -> Interaction:
        raise AssertionError("the router records results only when asked to")

    async def logged_decisions(
        self, last: int
    ) -> tuple[list[tuple[dict[str, Any], str, float, float, float]], int]:
        """Every remembered decision, rated a success."""
        rows = [
            (r.scores, r.model, r.propensity, 1.0, r.confidence)
            for r in self.remembered
            if r.propensity is not None
        ]
        return rows[:last], 0


@dataclass(frozen=True)
class FakeClassification:
    label: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_type": self.label,
            "confidence": self.confidence,
            "probabilities": {self.label: self.confidence},
            "routed_task_type": self.label,
            "reason": "fake",
        }


class FakeClassifier:
    max_chars = 4000
    min_confidence = 0.6
    version = "fake-1"
    features = "tfidf"

    def __init__(self, label: str, confidence: float, needs_embedding: bool = False) -> None:
        self.label, self.confidence, self.needs_embedding = label, confidence, needs_embedding
        self.seen: list[np.ndarray | None] = []

    def classify(self, text: str, embedding: np.ndarray | None = None) -> FakeClassification:
        self.seen.append(embedding)
        return FakeClassification(self.label, self.confidence)


CANDIDATES = [
    Candidate("coder", {"humaneval": 90, "mmlu_pro": 30}),
    Candidate("talker", {"humaneval": 30, "mmlu_pro": 70}),
    Candidate("tiny", {"humaneval": 10, "mmlu_pro": 10}),
]


def make_router(
    memory: FakeMemory, classifier: Any = None, settings: Settings | None = None
) -> Router:
    current = settings or Settings.model_validate({"routing": {"policy": "score"}})
    provider = (lambda: classifier) if classifier is not None else None
    return Router(memory, StaticCandidates(CANDIDATES), lambda: current, provider)


def test_one_search_for_top_k_times_models_and_a_recorded_interaction() -> None:
    memory = FakeMemory()
    router = make_router(memory, FakeClassifier("coding", 0.95))
    decision = asyncio.run(router.route("reverse a linked list in C"))
    assert decision.model == "coder" and decision.task_type == "coding"
    assert memory.searches == [(10 * 3, ["coder", "talker", "tiny"])]
    [row] = memory.remembered
    assert row.request_id == decision.request_id and row.model == "coder"
    assert row.query_text == "reverse a linked list in C" and row.embedding is not None
    assert set(row.scores) == {"coder", "talker", "tiny"}
    trace = decision.trace
    assert set(trace["timings_ms"]) == {"embed", "classify", "search", "score", "record", "total"}
    assert [c["model"] for c in trace["candidates"]] == ["coder", "talker", "tiny"]
    assert set(trace["candidates"][0]["signals"]) == {"benchmark", "memory", "latency", "feedback"}


def test_memory_evidence_moves_the_decision() -> None:
    now_neighbours = [
        Neighbour(str(i), 0.9, "talker", "coding", 1.0, __import__("time").time(), None)
        for i in range(5)
    ] + [
        Neighbour(f"c{i}", 0.9, "coder", "coding", 0.0, __import__("time").time(), None)
        for i in range(5)
    ]
    memory = FakeMemory(neighbours=now_neighbours)
    decision = asyncio.run(make_router(memory, FakeClassifier("coding", 0.95)).route("q"))
    assert decision.model == "talker"


def test_only_neighbours_of_the_routed_task_type_are_evidence() -> None:
    now = __import__("time").time()
    neighbours = [Neighbour(str(i), 0.9, "talker", "math", 1.0, now, None) for i in range(5)]
    decision = asyncio.run(
        make_router(FakeMemory(neighbours=neighbours), FakeClassifier("coding", 0.95)).route("q")
    )
    talker = next(c for c in decision.trace["candidates"] if c["model"] == "talker")
    assert decision.model == "coder" and not talker["memory"]["evidence"]
    assert decision.trace["memory"] == "ok; 5 neighbours of other task types are not evidence"
    assert {"exploration", "weights"} <= set(talker)
    mixed = Settings.model_validate({"routing": {"same_task_memory": False, "policy": "score"}})
    router = make_router(FakeMemory(neighbours=neighbours), FakeClassifier("coding", 0.95), mixed)
    trace = asyncio.run(router.route("q")).trace
    assert trace["memory"] == "ok"
    assert next(c for c in trace["candidates"] if c["model"] == "talker")["memory"]["evidence"]


def test_forced_model_is_kept_and_the_trace_says_so() -> None:
    memory = FakeMemory()
    decision = asyncio.run(
        make_router(memory, FakeClassifier("coding", 0.9)).route("q", model="tiny")
    )
    assert decision.model == "tiny" and decision.trace["forced"]
    assert (
        "forced by the caller" in decision.trace["reason"] and "coder" in decision.trace["reason"]
    )
    assert memory.remembered[0].forced


def test_unknown_forced_model_names_the_known_ones() -> None:
    with pytest.raises(NotFound, match="known models: coder, talker, tiny"):
        asyncio.run(make_router(FakeMemory()).route("q", model="nope"))


def test_empty_query_is_rejected() -> None:
    with pytest.raises(InvalidParams):
        asyncio.run(make_router(FakeMemory()).route("   "))


def test_no_classifier_routes_as_general_with_zero_confidence() -> None:
    decision = asyncio.run(make_router(FakeMemory()).route("anything"))
    assert decision.task_type == "general" and decision.confidence == 0.0
    assert "no classifier" in decision.trace["classification"]["reason"]
    assert decision.model == "talker"  # general → MMLU-Pro


def test_unavailable_classifier_is_explained() -> None:
    def broken() -> Any:
        raise Unavailable("artifact missing")

    memory = FakeMemory()
    router = Router(memory, StaticCandidates(CANDIDATES), Settings, broken)
    decision = asyncio.run(router.route("q"))
    assert "artifact missing" in decision.trace["classification"]["reason"]


def test_embedding_is_shared_with_a_classifier_that_needs_it() -> None:
    with_vec = FakeClassifier("math", 0.9, needs_embedding=True)
    without = FakeClassifier("math", 0.9, needs_embedding=False)
    asyncio.run(make_router(FakeMemory(), with_vec).route("2+2"))
    asyncio.run(make_router(FakeMemory(), without).route("2+2"))
    assert with_vec.seen[0] is not None and with_vec.seen[0].shape == (4,)
    assert without.seen == [None]


def test_store_text_false_keeps_only_a_hash() -> None:
    memory = FakeMemory()
    settings = Settings.model_validate({"memory": {"store_text": False}})
    asyncio.run(make_router(memory, settings=settings).route("secret text"))
    row = memory.remembered[0]
    assert row.query_text is None and len(row.query_hash) == 64


def test_explain_without_recording() -> None:
    memory = FakeMemory()
    decision = asyncio.run(make_router(memory).route("q", record=False))
    assert memory.remembered == [] and decision.trace["recorded"] is False


def test_no_candidates_is_a_clear_error() -> None:
    router = Router(FakeMemory(), StaticCandidates([]), Settings)
    with pytest.raises(Unavailable, match="no models are registered"):
        asyncio.run(router.route("q"))


def test_a_cooling_model_is_skipped_unless_named_or_all_cool() -> None:
    memory = FakeMemory()
    cooling = [
        Candidate("coder", {"humaneval": 90}, cooling_until=2e9, health="crashed"),
        *CANDIDATES[1:],
    ]
    router = Router(
        memory, StaticCandidates(cooling), Settings, lambda: FakeClassifier("coding", 0.95)
    )
    decision = asyncio.run(router.route("q"))
    assert decision.model != "coder"
    assert decision.trace["cooling"] == [{"model": "coder", "retry_at": 2e9, "reason": "crashed"}]
    forced = asyncio.run(router.route("q", model="coder"))
    assert forced.model == "coder" and forced.trace["cooling"] == []


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        self.calls = 0

    def embed_one(self, text: str) -> np.ndarray:
        self.calls += 1
        return super().embed_one(text)


def test_among_limits_the_choice_and_the_search_to_those_models() -> None:
    memory = FakeMemory()
    router = make_router(memory, FakeClassifier("coding", 0.95))
    decision = asyncio.run(router.route("def f(", kind="code", among=["talker", "tiny"]))
    assert decision.model == "talker"
    assert [c["model"] for c in decision.trace["candidates"]] == ["talker", "tiny"]
    assert memory.searches[-1] == (10 * 2, ["talker", "tiny"])
    with pytest.raises(NotFound, match="none of ghost is registered"):
        asyncio.run(router.route("def f(", among=["ghost"]))


def test_a_text_seen_recently_is_not_embedded_or_classified_again() -> None:
    embedder = CountingEmbedder()
    classifier = FakeClassifier("coding", 0.95, needs_embedding=True)
    router = make_router(FakeMemory(embedder=embedder), classifier)
    first = asyncio.run(router.route("[python] def f(a, b):\n", kind="code"))
    again = asyncio.run(router.route("[python] def f(a, b):\n", kind="code"))
    assert embedder.calls == 1 and len(classifier.seen) == 1
    assert again.task_type == first.task_type == "coding"
    assert again.trace["timings_ms"]["embed"] == 0.0
    asyncio.run(router.route("[python] def g():\n", kind="code"))
    assert embedder.calls == 2


def test_a_decision_searches_on_its_embedding_thread_and_a_prepared_one_after() -> None:
    memory = FakeMemory()
    router = make_router(memory, FakeClassifier("coding", 0.95))
    asyncio.run(router.route("sort a dict by value"))
    assert memory.blocking_searches == 1 and len(memory.searches) == 1
    # A text prepared earlier has its vector already: its search is the one step left.
    asyncio.run(router.prepare("parse a date in Go"))
    decision = asyncio.run(router.route("parse a date in Go"))
    assert memory.blocking_searches == 1 and len(memory.searches) == 2
    assert decision.trace["timings_ms"]["embed"] == 0.0


def test_a_memory_that_fails_on_the_embedding_thread_leaves_memory_neutral() -> None:
    class Failing(FakeMemory):
        def search_blocking(
            self, vector: np.ndarray, limit: int, models: list[str]
        ) -> list[Neighbour]:
            raise Unavailable("the vector memory is not open yet; try again shortly")

    router = make_router(Failing(), FakeClassifier("coding", 0.95))
    decision = asyncio.run(router.route("sort a dict by value"))
    assert "memory unavailable (the vector memory is not open yet" in str(decision.trace)
    assert decision.model in {"coder", "talker", "tiny"}


class ClassifierInParts(FakeClassifier):
    """Scores the words apart; ``text_scores`` must run while the query is being embedded."""

    def __init__(self) -> None:
        super().__init__("coding", 0.95, needs_embedding=True)
        self.words_scored = threading.Event()
        self.prepared: list[Any] = []

    def text_scores(self, text: str) -> str:
        self.words_scored.set()
        return f"words of {text}"

    def classify(  # type: ignore[override]
        self, text: str, embedding: np.ndarray | None = None, *, prepared: Any = None
    ) -> FakeClassification:
        self.prepared.append(prepared)
        return super().classify(text, embedding)


class WaitingEmbedder(FakeEmbedder):
    """Embeds only once the words are scored: a router that scored them after the embedding
    would wait here for the whole timeout."""

    def __init__(self, classifier: ClassifierInParts) -> None:
        self.classifier = classifier
        self.overlapped: list[bool] = []

    def embed_one(self, text: str) -> np.ndarray:
        self.overlapped.append(self.classifier.words_scored.wait(timeout=5))
        return super().embed_one(text)


def test_the_words_are_scored_while_the_query_is_embedded() -> None:
    classifier = ClassifierInParts()
    embedder = WaitingEmbedder(classifier)
    router = make_router(FakeMemory(embedder=embedder), classifier)
    decision = asyncio.run(router.route("reverse a linked list in C"))
    assert decision.task_type == "coding"
    assert embedder.overlapped == [True]
    assert classifier.prepared == ["words of reverse a linked list in C"]
    assert classifier.seen[0] is not None  # and the embedding still reaches the classifier
    asyncio.run(router.stop())
    # Stopped, the router classifies in one piece instead of failing.
    asyncio.run(router.route("sort a list", record=False))
    assert classifier.prepared[-1] is None
