"""The models a decision chooses between, as the router sees them.

The router never needs a loaded model to decide: it asks a ``CandidateSource``
for every registered model's published benchmarks, measured latency, residency
and expected load time. ``ConfigCandidates`` reads the ``[[models]]`` table, so
routing works before any model manager exists; the model manager implements
the same protocol with live residency and measured timings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from localforge.settings import Settings

BUNDLED_MODEL = "gemma3-270m"


@dataclass(frozen=True)
class Candidate:
    name: str
    # Raw published numbers keyed humaneval, gsm8k, mmlu_pro, mt_bench (0-10), gpqa.
    benchmarks: Mapping[str, float] = field(default_factory=dict)
    avg_latency_ms: float | None = None
    expected_load_ms: float = 0.0  # 0.0 when resident
    resident: bool = False
    # Set while the model cools down after failures: auto routing skips it until then.
    cooling_until: float | None = None
    health: str | None = None  # why it cools down


class CandidateSource(Protocol):
    def candidates(self) -> list[Candidate]: ...


class ConfigCandidates:
    """Candidates from the ``[[models]]`` config table (none resident; load time from config).

    With no models configured the bundled Gemma 3 270M is the only candidate,
    matching what the registry serves out of the box.
    """

    def __init__(self, settings: Settings | Callable[[], Settings]) -> None:
        self._settings = settings

    def _current(self) -> Settings:
        return self._settings() if callable(self._settings) else self._settings

    def candidates(self) -> list[Candidate]:
        entries = self._current().models
        if not entries:
            return [Candidate(BUNDLED_MODEL)]
        return [
            Candidate(
                name=entry.name,
                benchmarks=dict(entry.benchmarks),
                avg_latency_ms=entry.avg_latency_ms,
                expected_load_ms=float(entry.load_time_ms or 0.0),
                resident=False,
            )
            for entry in entries
        ]


class StaticCandidates:
    """A fixed list (benchmarks, simulations and tests)."""

    def __init__(self, candidates: list[Candidate]) -> None:
        self._candidates = list(candidates)

    def candidates(self) -> list[Candidate]:
        return list(self._candidates)
