"""Look for better routing settings in this user's own rated history (pure logic).

Each candidate changes one setting of those in force (``candidate_overrides``).
The settings in force and every candidate are replayed on the same decisions
(``routing.replay``), and a paired bootstrap over those decisions gives the
interval of each candidate's gain in self-normalised IPS over the settings in
force: pairing cancels what the two estimates share, so a real difference shows
with fewer decisions than two separate intervals would need. The intervals hold
at 95% for all candidates together (Bonferroni: each at 1 − 5%/k for k
candidates): with a dozen candidates, a 95% interval each would let one of them
look better by chance about a quarter of the time.

A candidate is recommended only when its whole interval lies above zero, enough
rated decisions were used and the candidate's importance weights are not carried
by a handful of decisions (effective sample size). Otherwise the report says to
keep the settings in force, and why. A log from the deterministic policy never
tried the alternatives, so it recommends nothing. Switching a Thompson user to the
deterministic policy is not a candidate: in hindsight greed always looks good, but
it would stop the trying that lets routing follow a change of taste, and the
propensities that later tuning needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from localforge.errors import InvalidParams
from localforge.routing.replay import (
    Logged,
    StoredRow,
    parse_overrides,
    read_logs,
    resamples,
    snips_along,
    target_probabilities,
)
from localforge.settings import Settings

MIN_DECISIONS = 100  # rated decisions a recommendation needs
MIN_EFFECTIVE_SHARE = 0.2  # effective sample size a candidate needs, as a share of them
FAMILY_LEVEL = 0.05  # chance that any candidate's interval misses its true gain
ROUNDS = 4000  # bootstrap resamples: enough for the tails a Bonferroni interval reads


def _number(value: float) -> str:
    return f"{value:.4g}"


def candidate_overrides(settings: Settings) -> list[list[str]]:
    """One-setting changes worth trying from ``settings``: each a list of ``--set`` items."""
    routing, weights = settings.routing, settings.weights
    options: dict[str, list[float]] = {
        "weights.latency": [0.0, weights.latency * 2 or 0.05],
        "routing.hysteresis": [0.0, routing.hysteresis * 2 or 0.02],
        "routing.benchmark_prior_weight": [
            routing.benchmark_prior_weight / 2,
            routing.benchmark_prior_weight * 2 or 1.0,
        ],
    }
    if routing.policy == "thompson":
        options["routing.posterior_scale"] = [0.3, 0.7, 1.0]
        evidence = routing.task_evidence
        options["routing.task_evidence"] = [0.0, evidence / 2, evidence * 2 or 20.0]
    else:
        options["weights.memory"] = [weights.memory / 2, weights.memory * 2 or 0.3]
        options["routing.exploration"] = [0.0, min(1.0, routing.exploration * 2 or 0.1)]
    current = _flat(settings)
    out: list[list[str]] = []
    for key, values in options.items():
        seen = {current[key]}
        for value in values:
            shown = _number(value)
            if shown in seen:
                continue
            seen.add(shown)
            out.append([f"{key}={shown}"])
    return out


def valid_candidates(settings: Settings) -> list[tuple[list[str], Settings]]:
    """The candidates with the settings each makes; a change outside its setting's range (a
    doubled hysteresis above 1, every weight at 0) is left out."""
    out = []
    for items in candidate_overrides(settings):
        try:
            out.append((items, parse_overrides(items, settings)))
        except InvalidParams:
            continue
    return out


def _flat(settings: Settings) -> dict[str, str]:
    flat: dict[str, str] = {}
    for section in ("weights", "routing"):
        for name, value in getattr(settings, section).model_dump().items():
            shown = _number(value) if isinstance(value, float) else str(value)
            flat[f"{section}.{name}"] = shown
    return flat


@dataclass(frozen=True)
class Gain:
    """A candidate's SNIPS against the settings in force, on the same bootstrap draws."""

    value: float
    gain: float
    low: float
    high: float
    effective: float  # effective sample size of its importance weights

    def describe(self) -> dict[str, float]:
        return {
            "snips": round(self.value, 4),
            "gain": round(self.gain, 4),
            "low": round(self.low, 4),
            "high": round(self.high, 4),
            "effective_decisions": round(self.effective, 1),
        }


def paired_gains(
    baseline: np.ndarray,
    candidates: Sequence[np.ndarray],
    rewards: np.ndarray,
    *,
    seed: int = 0,
    rounds: int = ROUNDS,
) -> list[Gain]:
    """Each candidate's SNIPS gain over ``baseline`` (importance weights per decision), with
    percentile intervals from one set of bootstrap resamples shared by all of them, which
    hold at ``1 − FAMILY_LEVEL`` for all candidates together."""
    n = len(rewards)
    tail = 100 * FAMILY_LEVEL / 2 / max(1, len(candidates))
    base_value = float(snips_along(baseline, rewards))
    diffs: list[list[np.ndarray]] = [[] for _ in candidates]
    for idx in resamples(n, rounds, seed):
        drawn = rewards[idx]
        base_rounds = snips_along(baseline[idx], drawn)
        for rows, weights in zip(diffs, candidates, strict=True):
            rows.append(snips_along(weights[idx], drawn) - base_rounds)
    gains = []
    for rows, weights in zip(diffs, candidates, strict=True):
        value = float(snips_along(weights, rewards))
        diff = np.concatenate(rows)
        finite = diff[np.isfinite(diff)]
        low, high = np.percentile(finite, [tail, 100 - tail]) if len(finite) else (np.nan, np.nan)
        total = float(weights.sum())
        effective = total * total / float(weights @ weights) if total > 0 else 0.0
        gains.append(Gain(value, value - base_value, float(low), float(high), effective))
    return gains


def tune(
    logs: Sequence[Logged],
    settings: Settings,
    *,
    seed: int = 0,
    skipped: int = 0,
    min_decisions: int = MIN_DECISIONS,
) -> dict[str, Any]:
    """The report: every candidate's estimated gain, and the one to adopt, if any."""
    rewards = np.asarray([log.reward for log in logs], dtype=np.float64)
    propensities = np.asarray([log.propensity for log in logs], dtype=np.float64)
    n = len(logs)
    report: dict[str, Any] = {
        "decisions": n,
        "skipped": skipped,
        "policy": settings.routing.policy,
        "candidates": [],
        "recommended": None,
    }
    if n < 2:
        report["reason"] = f"{n} rated decisions: rate some answers first (need {min_decisions})"
        return report
    baseline = target_probabilities(logs, settings, seed=seed) / propensities
    tried, weights = [], []
    for items, candidate in valid_candidates(settings):
        tried.append(items)
        weights.append(target_probabilities(logs, candidate, seed=seed) / propensities)
    gains = paired_gains(baseline, weights, rewards, seed=seed)
    report["current"] = round(float(snips_along(baseline, rewards)), 4)
    report["candidates"] = [
        {"set": items, **gain.describe()} for items, gain in zip(tried, gains, strict=True)
    ]
    report["candidates"].sort(key=lambda c: -c["low"] if np.isfinite(c["low"]) else np.inf)
    report["recommended"], report["reason"] = _verdict(
        report["candidates"], n, min_decisions, deterministic=bool(np.all(propensities >= 1.0))
    )
    return report


def _verdict(
    ranked: Sequence[Mapping[str, Any]], n: int, min_decisions: int, *, deterministic: bool
) -> tuple[list[str] | None, str]:
    if deterministic:
        return None, (
            "the log comes from the deterministic policy (propensity 1), which never tried the "
            'alternatives: switch to routing.policy = "thompson" to collect evidence'
        )
    if n < min_decisions:
        return None, f"{n} rated decisions: too few to change settings on (need {min_decisions})"
    for candidate in ranked:
        if candidate["low"] > 0 and candidate["effective_decisions"] >= MIN_EFFECTIVE_SHARE * n:
            return list(candidate["set"]), (
                f"gain {candidate['gain']:+.3f}, interval "
                f"[{candidate['low']:+.3f}, {candidate['high']:+.3f}] over the settings in force"
            )
    return None, "no candidate beats the settings in force with 95% confidence: keep them"


def tune_rows(
    rows: Sequence[StoredRow],
    settings: Settings,
    *,
    missing: int = 0,
    seed: int = 0,
    min_decisions: int = MIN_DECISIONS,
) -> dict[str, Any]:
    """``tune`` over stored rows."""
    logs = read_logs(rows)
    return tune(
        logs,
        settings,
        seed=seed,
        skipped=missing + len(rows) - len(logs),
        min_decisions=min_decisions,
    )
