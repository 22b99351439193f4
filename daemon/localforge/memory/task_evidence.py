"""Decayed success and failure counts per (task type, model): evidence wider than the neighbours.

The nearest past queries say how a model did on queries like this one; these
counts say how it did on the whole task type, so a posterior has evidence even
where the neighbourhood is thin. Each count decays by ``λ^days`` from when its
request was made, like the memory score. Each new outcome on a task type also
leaves the older ones on it (every model's) at most ``0.5^(1/(half_life·m))`` of
their weight, time decay included, for the m models rated on it: they halve at
least every ``half_life`` newer outcomes per model. So a user who rates many
answers in a day, or a whole stream in one sitting, still sees old outcomes
fade, and a model that has not been tried for a while drifts back to its prior
and is tried again.

A fade that slow cannot follow a taste that changes at once. With
``change_window`` set, each pair also keeps its model's newest outcomes on the
task type apart: when they are unlikely under the older counts (a two-sided
binomial test of their rounded sum at ``change_level``, against at least
``change_window`` older outcomes and their Laplace mean, so that no rate is ever
certain), the older counts are dropped and only the newest stay. The time of the
outcome that showed the change is kept (``changes``): the model's similar past
queries of that task type from before it no longer count either
(``memory.scoring``).

Where on the task type a model's outcomes lie is kept too: the sums of the
query embeddings of its successes and of its failures, weighted and faded like
the counts. Asked with a query's vector and a ``locality`` τ, ``get`` says how
the model did on queries like this one rather than on the task type at large:
with ``a_s`` and ``a_f`` the query's similarity to the centroids of the
successes and of the failures (each shrunk towards the centroid of the task
type's queries, all models', by ``CENTROID_PRIOR`` outcomes, so that a few outcomes
cannot point far and a model with no successes has them where the task type's
queries lie), the farther of the two counts keeps ``exp(−τ·g)`` of its weight, where ``g``
is ``|a_s − a_f|`` less ``NOISE_Z`` standard errors of the gap chance alone would give (the
spread of the newest ``QUERY_SAMPLE`` queries' similarities to this one, over each side's
weight), so that a query that happens to resemble a past success more than the failures
does not halve the failures.
A model whose successes lie on one side of a task type and failures on the
other is then judged by the side the query is on; where outcomes do not depend
on the query both centroids converge and nothing changes. The sums are kept only
while ``routing.task_locality`` is on (``placed``): off, a start reads no
embedding from SQLite, and turning it on rebuilds the counts.

Kept in memory (per task type and model, a pair of floats, two embedding sums
and at most ``change_window`` recent outcomes; per task type at most
``QUERY_SAMPLE`` query vectors: so bounded by the registry),
rebuilt from SQLite at start, after deletes or imports and when how they fade
changes, updated on every outcome.
"""

from __future__ import annotations

import math
import sqlite3
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from localforge.settings import Settings

DAY_S = 86400.0
COUNT_KEYS = (  # the settings the counts are built with: a change rebuilds them
    "memory.decay",
    "memory.outcome_half_life",
    "memory.change_window",
    "memory.change_level",
    "routing.task_locality",  # on, where outcomes lie is kept too
)
CENTROID_PRIOR = 3.0  # outcomes' worth of the task type's centroid in each side's centroid
Vector = np.ndarray
NOISE_Z = 2.0  # gaps within this many standard errors of chance count as none
QUERY_SAMPLE = 64  # newest queries per task type, for how their similarities to a query spread
OutcomeRow = tuple[str, str, float, float, Vector | None]  # task type, model, outcome, at, vector


@dataclass
class _Recent:
    value: float
    weight: float  # what the outcome weighs in the counts now
    vector: Vector | None = None


@dataclass
class _Where:
    """Weighted sums of the query embeddings of a model's successes and failures."""

    successes: Vector
    failures: Vector
    success_weight: float = 0.0  # the counted weight these sums hold (outcomes with a vector)
    failure_weight: float = 0.0

    @classmethod
    def empty(cls, dim: int) -> _Where:
        return cls(np.zeros(dim, dtype=np.float64), np.zeros(dim, dtype=np.float64))

    def add(self, vector: Vector, success: float, failure: float) -> None:
        self.successes += success * vector
        self.failures += failure * vector
        self.success_weight = max(self.success_weight + success, 0.0)
        self.failure_weight = max(self.failure_weight + failure, 0.0)

    def shrink(self, factor: float) -> None:
        self.successes *= factor
        self.failures *= factor
        self.success_weight *= factor
        self.failure_weight *= factor

    def keeps(
        self, vector: Vector, locality: float, centre: Vector, spread: float
    ) -> tuple[float, float]:
        """The share of its weight each count keeps for a query at ``vector``: ``centre`` is
        where the task type's queries lie (each side's centroid is shrunk towards it) and
        ``spread`` how their similarities to the query scatter (a gap chance would give counts
        as none)."""
        prior = CENTROID_PRIOR * centre
        near_success = float(vector @ (self.successes + prior)) / (
            self.success_weight + CENTROID_PRIOR
        )
        near_failure = float(vector @ (self.failures + prior)) / (
            self.failure_weight + CENTROID_PRIOR
        )
        chance = spread * math.sqrt(
            self.success_weight / (self.success_weight + CENTROID_PRIOR) ** 2
            + self.failure_weight / (self.failure_weight + CENTROID_PRIOR) ** 2
        )
        gap = max(abs(near_success - near_failure) - NOISE_Z * chance, 0.0)
        kept = math.exp(-locality * gap)
        return (1.0, kept) if near_success >= near_failure else (kept, 1.0)


@dataclass
class _Layout:
    """Where a task type's rated queries lie, as ``get`` reads it until the next outcome."""

    centre: Vector  # the weighted mean embedding of them all, every model's
    sample: Vector  # the newest ``QUERY_SAMPLE`` of them, one a row


@dataclass
class _Counts:
    successes: float = 0.0
    failures: float = 0.0
    at: float = 0.0  # the time both counts are referred to
    recent: deque[_Recent] = field(default_factory=deque)  # the newest outcomes, oldest first
    changed_at: float | None = None  # when the older counts were last dropped
    where: _Where | None = None

    def shrink(self, factor: float) -> None:
        self.successes *= factor
        self.failures *= factor
        for item in self.recent:
            item.weight *= factor
        if self.where is not None:
            self.where.shrink(factor)

    def place(self, vector: Vector | None, success: float, failure: float) -> None:
        """Add (or, negative, take back) weighted outcomes of a query at ``vector``."""
        if vector is None:
            return
        if self.where is None or self.where.successes.shape != vector.shape:
            self.where = _Where.empty(vector.shape[0])  # a new embedding model starts over
        self.where.add(vector, success, failure)

    def keep_recent(self) -> None:
        """Drop the older counts: only the recent outcomes stay, where they lie included."""
        successes, failures = self.older()
        self.successes -= successes
        self.failures -= failures
        self.where = None
        for item in self.recent:
            self.place(item.vector, item.value * item.weight, (1.0 - item.value) * item.weight)

    def older(self) -> tuple[float, float]:
        """The counts without the recent outcomes."""
        successes = self.successes - sum(i.value * i.weight for i in self.recent)
        failures = self.failures - sum((1.0 - i.value) * i.weight for i in self.recent)
        return max(successes, 0.0), max(failures, 0.0)


def binomial_tails(k: int, n: int, p: float) -> tuple[float, float]:
    """P(X ≤ k) and P(X ≥ k) for X ~ Binomial(n, p)."""
    pmf = [math.comb(n, i) * p**i * (1.0 - p) ** (n - i) for i in range(n + 1)]
    return sum(pmf[: k + 1]), sum(pmf[k:])


class TaskEvidence:
    def __init__(
        self,
        decay: float,
        half_life: float = 0.0,
        *,
        change_window: int = 0,
        change_level: float = 0.01,
        placed: bool = True,
    ) -> None:
        self.decay = decay
        self.half_life = half_life  # newer outcomes per model rated on the task type
        self.change_window = change_window  # 0: no change detection
        self.change_level = change_level
        self.placed = placed  # whether the embedding sums and the query sample are kept
        self._counts: dict[tuple[str, str], _Counts] = {}
        self._layouts: dict[str, _Layout] = {}  # per task type, until its next outcome
        self._queries: dict[str, deque[Vector]] = {}  # per task type, the newest rated queries

    @classmethod
    def from_settings(cls, settings: Settings) -> TaskEvidence:
        memory = settings.memory
        return cls(
            memory.decay,
            memory.outcome_half_life,
            change_window=memory.change_window,
            change_level=memory.change_level,
            placed=settings.routing.task_locality > 0.0,
        )

    def _factor(self, days: float) -> float:
        return float(self.decay ** max(days, 0.0))

    def add(
        self,
        task_type: str,
        model: str,
        value: float,
        at: float,
        previous: float | None = None,
        vector: Vector | None = None,
    ) -> None:
        """Count outcome ``value`` of a request made at ``at`` for a query embedded as
        ``vector``; ``previous`` is an outcome it replaces."""
        vector = _unit(vector) if self.placed else None
        self._layouts.pop(task_type, None)
        if previous is None and vector is not None:
            sample = self._queries.get(task_type)
            if sample is None or sample[0].shape != vector.shape:
                sample = self._queries[task_type] = deque(maxlen=QUERY_SAMPLE)
            sample.append(vector)
        if previous is None:
            self._fade(task_type, model, at)
        counts = self._counts.setdefault((task_type, model), _Counts(at=at))
        if at > counts.at:
            counts.shrink(self._factor((at - counts.at) / DAY_S))
            counts.at = at
        weight = self._factor((counts.at - at) / DAY_S)
        if previous is not None:
            counts.successes -= previous * weight
            counts.failures -= (1.0 - previous) * weight
            counts.place(vector, -previous * weight, -(1.0 - previous) * weight)
        counts.successes = max(counts.successes + value * weight, 0.0)
        counts.failures = max(counts.failures + (1.0 - value) * weight, 0.0)
        counts.place(vector, value * weight, (1.0 - value) * weight)
        if previous is None and self.change_window > 0:
            counts.recent.append(_Recent(value, weight, vector))
            if len(counts.recent) > self.change_window:
                counts.recent.popleft()
            if self._changed(counts):
                counts.keep_recent()
                counts.changed_at = at

    def _changed(self, counts: _Counts) -> bool:
        """Whether the recent outcomes are unlikely under the older counts."""
        if len(counts.recent) < self.change_window:
            return False
        successes, failures = counts.older()
        if successes + failures < self.change_window:
            return False
        mean = (successes + 1.0) / (successes + failures + 2.0)  # never certain
        hits = round(sum(item.value for item in counts.recent))
        low, high = binomial_tails(hits, len(counts.recent), mean)
        return min(low, high) < self.change_level / 2.0

    def changes(self) -> dict[tuple[str, str], float]:
        """(task type, model) → when that model's older outcomes there were last dropped."""
        if self.change_window <= 0:
            return {}  # off: nothing to look through on every decision
        return {
            key: counts.changed_at
            for key, counts in self._counts.items()
            if counts.changed_at is not None
        }

    def keep(self, task_type: str, model: str) -> float:
        """How much of its weight an older outcome on ``task_type`` keeps as ``model``'s arrives."""
        rated = {m for t, m in self._counts if t == task_type} | {model}
        return 0.5 ** (1.0 / (self.half_life * len(rated))) if self.half_life > 0 else 1.0

    def _fade(self, task_type: str, model: str, at: float) -> None:
        """A new outcome: the task type's older ones keep at most ``keep``, time decay included."""
        on_task = [counts for (task, _), counts in self._counts.items() if task == task_type]
        keep = self.keep(task_type, model)
        if not on_task or keep >= 1.0:
            return
        latest = max(counts.at for counts in on_task)  # the newest rated request on the task type
        by_time = self._factor((at - latest) / DAY_S)
        if by_time <= keep:
            return
        for counts in on_task:
            counts.shrink(keep / by_time)

    def get(
        self,
        task_type: str,
        model: str,
        now: float,
        vector: Vector | None = None,
        locality: float = 0.0,
    ) -> tuple[float, float]:
        """(successes, failures), decayed to ``now``; with ``vector`` and ``locality`` > 0, the
        count on the side of the task type the query is not on weighs less (see above)."""
        counts = self._counts.get((task_type, model))
        if counts is None:
            return 0.0, 0.0
        shrink = self._factor((now - counts.at) / DAY_S)
        keep_successes = keep_failures = 1.0
        query = _unit(vector) if locality > 0.0 else None
        if (
            query is not None
            and counts.where is not None
            and counts.where.successes.shape == query.shape
        ):
            layout = self._layout(task_type, query.shape)
            spread = float(np.std(layout.sample @ query)) if len(layout.sample) else 0.0
            keep_successes, keep_failures = counts.where.keeps(
                query, locality, layout.centre, spread
            )
        return (
            counts.successes * shrink * keep_successes,
            counts.failures * shrink * keep_failures,
        )

    def _layout(self, task_type: str, shape: tuple[int, ...]) -> _Layout:
        cached = self._layouts.get(task_type)
        if cached is not None and cached.centre.shape == shape:
            return cached
        total = np.zeros(shape, dtype=np.float64)
        weight = 0.0
        for (task, _), counts in self._counts.items():
            where = counts.where
            if task == task_type and where is not None and where.successes.shape == shape:
                total += where.successes + where.failures
                weight += where.success_weight + where.failure_weight
        queries = [q for q in self._queries.get(task_type, ()) if q.shape == shape]
        sample = np.stack(queries) if queries else np.zeros((0, *shape))
        layout = _Layout(total / weight if weight > 0.0 else total, sample)
        self._layouts[task_type] = layout
        return layout

    def load(self, rows: Iterable[OutcomeRow]) -> None:
        """Replace every count with ``(task_type, model, outcome, created_at, vector)`` rows."""
        self._counts.clear()
        self._layouts.clear()
        self._queries.clear()
        for task_type, model, outcome, created_at, vector in sorted(rows, key=lambda r: r[3]):
            self.add(task_type, model, float(outcome), float(created_at), vector=vector)


def _unit(vector: Vector | None) -> Vector | None:
    if vector is None:
        return None
    flat = np.asarray(vector, dtype=np.float64).ravel()
    norm = float(np.linalg.norm(flat))
    return flat / norm if norm > 0.0 and math.isfinite(norm) else None


def outcome_rows(conn: sqlite3.Connection, vectors: bool = True) -> list[OutcomeRow]:
    """Every rated interaction as ``(task_type, model, outcome, created_at, embedding)``;
    without ``vectors`` the embedding is left unread (None)."""
    embedding = "embedding" if vectors else "NULL"
    return [
        (
            str(r[0]),
            str(r[1]),
            float(r[2]),
            float(r[3]),
            None if r[4] is None else np.frombuffer(r[4], dtype=np.float32),
        )
        for r in conn.execute(
            f"SELECT task_type, model, outcome, created_at, {embedding} FROM interactions "
            "WHERE outcome IS NOT NULL AND outcome_kind != 'error'"
        )
    ]
