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

Kept in memory (per task type and model, a pair of floats and at most
``change_window`` recent outcomes, so bounded by the registry), rebuilt from SQLite
at start, after deletes or imports and when how they fade changes, updated on
every outcome.
"""

from __future__ import annotations

import math
import sqlite3
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from localforge.settings import MemorySettings

DAY_S = 86400.0
COUNT_KEYS = (  # the settings that say how the counts fade: a change rebuilds them
    "memory.decay",
    "memory.outcome_half_life",
    "memory.change_window",
    "memory.change_level",
)


@dataclass
class _Recent:
    value: float
    weight: float  # what the outcome weighs in the counts now


@dataclass
class _Counts:
    successes: float = 0.0
    failures: float = 0.0
    at: float = 0.0  # the time both counts are referred to
    recent: deque[_Recent] = field(default_factory=deque)  # the newest outcomes, oldest first
    changed_at: float | None = None  # when the older counts were last dropped

    def shrink(self, factor: float) -> None:
        self.successes *= factor
        self.failures *= factor
        for item in self.recent:
            item.weight *= factor

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
    ) -> None:
        self.decay = decay
        self.half_life = half_life  # newer outcomes per model rated on the task type
        self.change_window = change_window  # 0: no change detection
        self.change_level = change_level
        self._counts: dict[tuple[str, str], _Counts] = {}

    @classmethod
    def from_settings(cls, settings: MemorySettings) -> TaskEvidence:
        return cls(
            settings.decay,
            settings.outcome_half_life,
            change_window=settings.change_window,
            change_level=settings.change_level,
        )

    def _factor(self, days: float) -> float:
        return float(self.decay ** max(days, 0.0))

    def add(
        self, task_type: str, model: str, value: float, at: float, previous: float | None = None
    ) -> None:
        """Count outcome ``value`` of a request made at ``at``; ``previous`` is one it replaces."""
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
        counts.successes = max(counts.successes + value * weight, 0.0)
        counts.failures = max(counts.failures + (1.0 - value) * weight, 0.0)
        if previous is None and self.change_window > 0:
            counts.recent.append(_Recent(value, weight))
            if len(counts.recent) > self.change_window:
                counts.recent.popleft()
            if self._changed(counts):
                successes, failures = counts.older()
                counts.successes -= successes
                counts.failures -= failures
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

    def get(self, task_type: str, model: str, now: float) -> tuple[float, float]:
        """(successes, failures), decayed to ``now``."""
        counts = self._counts.get((task_type, model))
        if counts is None:
            return 0.0, 0.0
        shrink = self._factor((now - counts.at) / DAY_S)
        return counts.successes * shrink, counts.failures * shrink

    def load(self, rows: Iterable[tuple[str, str, float, float]]) -> None:
        """Replace every count with ``(task_type, model, outcome, created_at)`` rows."""
        self._counts.clear()
        for task_type, model, outcome, created_at in sorted(rows, key=lambda r: r[3]):
            self.add(task_type, model, float(outcome), float(created_at))


def outcome_rows(conn: sqlite3.Connection) -> list[tuple[str, str, float, float]]:
    """Every rated interaction as ``(task_type, model, outcome, created_at)``."""
    return [
        (str(r[0]), str(r[1]), float(r[2]), float(r[3]))
        for r in conn.execute(
            "SELECT task_type, model, outcome, created_at FROM interactions "
            "WHERE outcome IS NOT NULL AND outcome_kind != 'error'"
        )
    ]
