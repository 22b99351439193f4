"""Benchmark scores per model: config overrides > the bundled published table > measured mini-eval.

The bundled table (``data/benchmarks.toml``) holds published numbers of
well-known families, each with the page it came from. A model is matched to a
family by its names (registry name, GGUF ``general.name``, file name). Scores
measured by ``lfctl models eval`` fill the benchmarks nobody published for the
model. A model with no score at all is routed on a neutral prior.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from localforge.benchmarks import BENCHMARK_KEYS, BENCHMARK_SCALES, score_problem
from localforge.errors import ConfigError

# Which benchmark each measured mini-eval category stands in for.
MEASURED_AS = {"coding": "humaneval", "math": "gsm8k", "instruction": "mt_bench"}


@dataclass(frozen=True)
class Family:
    id: str
    aliases: tuple[str, ...]
    source: str
    scores: Mapping[str, float]
    note: str | None = None


@dataclass(frozen=True)
class Scores:
    values: Mapping[str, float] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    family: str | None = None
    note: str | None = None

    @property
    def neutral(self) -> bool:
        return not self.values

    def describe(self) -> dict[str, Any]:
        return {
            "scores": dict(self.values),
            "sources": dict(self.sources),
            "family": self.family,
            "neutral_prior": self.neutral,
            "missing": [key for key in BENCHMARK_KEYS if key not in self.values],
            "note": self.note,
        }


def normalise_name(text: str) -> str:
    """``Meta-Llama-3.1-8B-Instruct.Q4_K_M.gguf`` → ``meta-llama-3.1-8b-instruct-q4-k-m``."""
    text = text.lower().removesuffix(".gguf")
    text = re.sub(r"[\s_/]+", "-", text)
    text = re.sub(r"\.(?=[a-z])", "-", text)  # dots between words, not in versions like 3.1
    return re.sub(r"-+", "-", text).strip("-")


def validate_keys(scores: Mapping[str, float], where: str) -> None:
    for key, value in scores.items():
        problem = score_problem(key, value)
        if problem is not None:
            raise ConfigError(f"{where}: {problem}")


class BenchmarkTable:
    def __init__(self, families: Iterable[Family]) -> None:
        self.families = tuple(families)

    @classmethod
    def from_toml(cls, text: str, origin: str = "benchmarks table") -> BenchmarkTable:
        data = tomllib.loads(text)
        families = []
        for raw in data.get("family", []):
            scores = {str(k): float(v) for k, v in (raw.get("scores") or {}).items()}
            validate_keys(scores, f"{origin}, family {raw.get('id')!r}")
            families.append(
                Family(
                    id=str(raw["id"]),
                    aliases=tuple(normalise_name(a) for a in raw.get("aliases", [raw["id"]])),
                    source=str(raw["source"]),
                    scores=scores,
                    note=raw.get("note"),
                )
            )
        return cls(families)

    @classmethod
    def bundled(cls) -> BenchmarkTable:
        return _bundled()

    def match(self, names: Iterable[str | None]) -> Family | None:
        """The family whose longest alias occurs in any of ``names`` as a whole '-'-bounded run."""
        best: tuple[int, Family] | None = None
        for raw in names:
            if not raw:
                continue
            name = normalise_name(raw)
            for family in self.families:
                for alias in family.aliases:
                    if re.search(rf"(^|-){re.escape(alias)}(-|$)", name) and (
                        best is None or len(alias) > best[0]
                    ):
                        best = (len(alias), family)
        return best[1] if best else None


@lru_cache(maxsize=1)
def _bundled() -> BenchmarkTable:
    text = (
        resources.files("localforge.models.catalogue").joinpath("data/benchmarks.toml").read_text()
    )
    return BenchmarkTable.from_toml(text, "bundled benchmarks table")


def resolve_scores(
    names: Iterable[str | None],
    *,
    configured: Mapping[str, float] | None = None,
    measured: Mapping[str, float] | None = None,
    measured_source: Mapping[str, str] | str = "measured",
    table: BenchmarkTable | None = None,
) -> Scores:
    """Combine the three sources; each number remembers where it came from."""
    table = table or BenchmarkTable.bundled()
    family = table.match(names)
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    for key, value in (measured or {}).items():
        values[key] = value
        sources[key] = (
            measured_source
            if isinstance(measured_source, str)
            else measured_source.get(key, "measured")
        )
    if family is not None:
        for key, value in family.scores.items():
            values[key] = value
            sources[key] = family.source
    for key, value in (configured or {}).items():
        values[key] = value
        sources[key] = "config"
    note = family.note if family is not None else None
    if not values:
        note = (note + "; " if note else "") + "no scores: routed on a neutral prior"
    return Scores(values, sources, family.id if family else None, note)


def measured_benchmarks(category_scores: Mapping[str, float]) -> dict[str, float]:
    """Mini-eval pass rates (0-1 per category) on the scale of the benchmark each stands in for."""
    out = {}
    for category, fraction in category_scores.items():
        key = MEASURED_AS.get(category)
        if key is not None:
            out[key] = round(fraction * BENCHMARK_SCALES[key], 2)
    return out
