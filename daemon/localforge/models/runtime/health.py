"""Model health: a circuit breaker per model, fed by failures that say nothing of answer quality.

Crashes, failed loads, timeouts and budget refusals are health events. After
``threshold`` of them in a row a model cools down: automatic routing skips it for
a back-off that doubles with every further failure (up to ``max_s``); one success
closes the breaker. A model that crashes in safe mode too is broken: it cools for
the longest back-off and keeps its cause until it serves again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class ModelHealth:
    failures: int = 0  # in a row
    last_error: str | None = None
    cooling_until: float | None = None  # wall-clock seconds
    broken: str | None = None  # the cause, when both modes crash


class HealthBook:
    def __init__(
        self,
        *,
        threshold: Callable[[], int],
        base_s: Callable[[], float],
        max_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._threshold = threshold
        self._base_s = base_s
        self.max_s = max_s
        self.clock = clock
        self._models: dict[str, ModelHealth] = {}

    def failure(self, name: str, error: str) -> ModelHealth:
        health = self._models.setdefault(name, ModelHealth())
        health.failures += 1
        health.last_error = error
        over = health.failures - self._threshold()
        if over >= 0:
            backoff = min(self._base_s() * 2**over, self.max_s)
            health.cooling_until = self.clock() + backoff
        return health

    def broken(self, name: str, cause: str) -> None:
        health = self._models.setdefault(name, ModelHealth())
        health.failures += 1
        health.last_error = health.broken = cause
        health.cooling_until = self.clock() + self.max_s

    def success(self, name: str) -> None:
        self._models.pop(name, None)

    def forget(self, name: str) -> None:
        """The model's file changed or left: what it did before says nothing now."""
        self._models.pop(name, None)

    def cooling_until(self, name: str) -> float | None:
        health = self._models.get(name)
        if health is None or health.cooling_until is None:
            return None
        return health.cooling_until if health.cooling_until > self.clock() else None

    def describe(self, name: str) -> dict[str, Any]:
        health = self._models.get(name)
        if health is None:
            return {"state": "healthy", "failures": 0}
        until = self.cooling_until(name)
        state = "broken" if health.broken and until else "cooling" if until else "healthy"
        out: dict[str, Any] = {
            "state": state,
            "failures": health.failures,
            "last_error": health.last_error,
        }
        if until is not None:
            out["retry_at"] = round(until, 1)
            out["retry_in_s"] = round(until - self.clock(), 1)
        if health.broken:
            out["broken"] = health.broken
        return out

    def unhealthy(self) -> dict[str, dict[str, Any]]:
        """Every model that is cooling down or broken now, described."""
        return {
            name: self.describe(name)
            for name in sorted(self._models)
            if self.cooling_until(name) is not None
        }
