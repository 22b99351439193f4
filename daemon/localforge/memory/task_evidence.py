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
and is tried again. Kept in
memory (one pair of floats per task type and model, so bounded by the registry),
rebuilt from SQLite at start, after deletes or imports and when how they fade
changes, updated on every outcome.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

DAY_S = 86400.0


@dataclass
class _Counts:
    successes: float = 0.0
    failures: float = 0.0
    at: float = 0.0  # the time both counts are referred to


class TaskEvidence:
    def __init__(self, decay: float, half_life: float = 0.0) -> None:
        self.decay = decay
        self.half_life = half_life  # newer outcomes per model rated on the task type
        self._counts: dict[tuple[str, str], _Counts] = {}

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
            shrink = self._factor((at - counts.at) / DAY_S)
            counts.successes *= shrink
            counts.failures *= shrink
            counts.at = at
        weight = self._factor((counts.at - at) / DAY_S)
        if previous is not None:
            counts.successes -= previous * weight
            counts.failures -= (1.0 - previous) * weight
        counts.successes = max(counts.successes + value * weight, 0.0)
        counts.failures = max(counts.failures + (1.0 - value) * weight, 0.0)

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
            counts.successes *= keep / by_time
            counts.failures *= keep / by_time

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
