"""Offline replay: how would other routing settings have done on this user's own history?

Each logged decision keeps every candidate's signals and evidence (``interactions.scores``)
and the propensity ``p`` the logging policy gave the model it chose. For another
setting the policy is rerun on those signals to get ``π(a|x)``, the probability it
would pick the logged model; with the reported outcome ``r`` and ``w = π/p``:

- IPS:  ``V = Σ w·r / n`` (unbiased when every propensity is right and > 0);
- SNIPS: ``V = Σ w·r / Σ w`` (self-normalised: a little biased, much less variance).

Intervals are percentile bootstraps over decisions (seeded, so a replay is
repeatable). Only decisions with an outcome and a logged propensity count:
forced ones, and ones logged before propensities were, are left out. A
deterministic logging policy (``routing.policy = "score"``) has propensity 1 for
what it chose and never tries the rest, so settings that would choose otherwise
cannot be judged from its log; the report says how many decisions support the
estimate (``matched``: where the new policy could pick the logged model).

Only settings that act on the logged signals can be replayed (the weights and
the ``routing`` section); ones that change the evidence itself (decay, top_k,
same_task_memory, task_share_min) would need the searches rerun, and are refused by name.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from localforge.errors import InvalidParams
from localforge.routing.policy import Arm, Mix, choice_probabilities
from localforge.settings import RoutingSettings, Settings, WeightSettings

REPLAYABLE_SECTIONS = ("weights", "routing")
NOT_REPLAYABLE = (  # they change which evidence there is, not how it is weighed
    "routing.same_task_memory",
    "routing.task_share_min",
)
BOOTSTRAP = 1000
RESAMPLE_CELLS = 1_000_000  # indices drawn at once: bounds a bootstrap's memory at any n
DRAWS = 256  # posterior draws per decision when the replayed policy is thompson
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Logged:
    """One decision as the replay needs it."""

    arms: list[Arm]
    chosen: str
    propensity: float
    reward: float
    confidence: float

    @classmethod
    def from_row(
        cls,
        scores: Mapping[str, Any],
        model: str,
        propensity: float,
        reward: float,
        confidence: float,
    ) -> Logged | None:
        """``None`` for a row that lacks what a replay needs (logged by an older version)."""
        try:
            arms = [Arm.from_log(name, dict(data)) for name, data in sorted(scores.items())]
        except (KeyError, TypeError, ValueError):
            return None
        if model not in scores or not 0.0 < propensity <= 1.0:
            return None
        return cls(arms, model, propensity, reward, confidence)


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float

    def describe(self) -> dict[str, float]:
        return {
            "value": round(self.value, 4),
            "low": round(self.low, 4),
            "high": round(self.high, 4),
        }


def parse_overrides(items: Sequence[str], base: Settings) -> Settings:
    """``["weights.memory=0.5", ...]`` applied to ``base``, validated like the config file."""
    data = base.model_dump(mode="python")
    for item in items:
        key, sep, value = item.partition("=")
        section, _, name = key.strip().partition(".")
        if not sep or not name:
            raise InvalidParams(
                f"--set {item!r}: write SECTION.NAME=VALUE, e.g. weights.memory=0.5"
            )
        if section not in REPLAYABLE_SECTIONS or key.strip() in NOT_REPLAYABLE:
            raise InvalidParams(
                f"{key.strip()} cannot be replayed: it changes the evidence, not the choice; "
                f"replay settings under {', '.join(s + '.' for s in REPLAYABLE_SECTIONS)} "
                f"(except {', '.join(NOT_REPLAYABLE)})"
            )
        fields = (WeightSettings if section == "weights" else RoutingSettings).model_fields
        if name not in fields:
            raise InvalidParams(
                f"unknown setting {key.strip()!r}; {section} has {', '.join(sorted(fields))}"
            )
        data[section][name] = value.strip()
    try:
        return Settings.model_validate(data)
    except ValueError as exc:
        raise InvalidParams(f"invalid replay setting: {exc}") from exc


def mix_of(weights: WeightSettings) -> Mix:
    total = weights.benchmark + weights.memory + weights.latency + weights.feedback
    return Mix(
        weights.benchmark / total,
        weights.memory / total,
        weights.latency / total,
        weights.feedback / total,
    )


def target_probabilities(
    logs: Sequence[Logged], settings: Settings, *, seed: int = 0
) -> np.ndarray:
    """π(logged model | its context) under ``settings``, one per decision."""
    rng = np.random.default_rng(seed)
    mix = mix_of(settings.weights)
    out = np.empty(len(logs))
    for i, log in enumerate(logs):
        probabilities = choice_probabilities(
            log.arms, mix, settings.routing, log.confidence, rng=rng, draws=DRAWS
        )
        out[i] = probabilities[[a.name for a in log.arms].index(log.chosen)]
    return out


def ips(weights: np.ndarray, rewards: np.ndarray) -> float:
    return float(np.mean(weights * rewards)) if len(rewards) else math.nan


def snips(weights: np.ndarray, rewards: np.ndarray) -> float:
    return float(snips_along(weights, rewards))


def snips_along(weights: np.ndarray, rewards: np.ndarray) -> np.ndarray:
    """SNIPS along the last axis, so one call handles a batch of resamples (NaN where no
    weight falls)."""
    totals = weights.sum(axis=-1)
    safe = np.where(totals > 0, totals, 1.0)
    return np.where(totals > 0, (weights * rewards).sum(axis=-1) / safe, np.nan)


def resamples(n: int, rounds: int, seed: int) -> Iterator[np.ndarray]:
    """``rounds`` bootstrap resamples of ``n`` decisions, as index blocks of at most
    ``RESAMPLE_CELLS`` cells (rows are resamples), drawn in order from one seeded stream."""
    rng = np.random.default_rng(seed)
    per_block = max(1, RESAMPLE_CELLS // max(n, 1))
    for start in range(0, rounds, per_block):
        yield rng.integers(0, n, size=(min(per_block, rounds - start), n))


def bootstrap(
    weights: np.ndarray, rewards: np.ndarray, *, seed: int = 0, rounds: int = BOOTSTRAP
) -> tuple[Estimate, Estimate]:
    """IPS and SNIPS with 95% percentile-bootstrap intervals."""
    n = len(rewards)
    point_ips, point_snips = ips(weights, rewards), snips(weights, rewards)
    if n < 2:
        return Estimate(point_ips, math.nan, math.nan), Estimate(point_snips, math.nan, math.nan)
    weighted = weights * rewards
    sums, totals = [], []
    for idx in resamples(n, rounds, seed):
        sums.append(weighted[idx].sum(axis=1))
        totals.append(weights[idx].sum(axis=1))
    wr_sums, w_sums = np.concatenate(sums), np.concatenate(totals)
    ips_rounds = wr_sums / n
    snips_rounds = np.where(w_sums > 0, wr_sums / np.where(w_sums > 0, w_sums, 1), np.nan)
    lo_i, hi_i = np.percentile(ips_rounds, [2.5, 97.5])
    lo_s = hi_s = math.nan
    if np.isfinite(snips_rounds).any():
        lo_s, hi_s = np.nanpercentile(snips_rounds, [2.5, 97.5])
    return (
        Estimate(point_ips, float(lo_i), float(hi_i)),
        Estimate(point_snips, float(lo_s), float(hi_s)),
    )


def logged_value(rewards: np.ndarray) -> Estimate:
    """The logging policy's own mean outcome, with a normal-approximation 95% interval."""
    n = len(rewards)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan)
    mean = float(rewards.mean())
    half = Z95 * float(rewards.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
    return Estimate(mean, mean - half, mean + half)


def replay(
    logs: Sequence[Logged], settings: Settings, *, seed: int = 0, skipped: int = 0
) -> dict[str, Any]:
    """The whole report: the logged policy's value, IPS and SNIPS of ``settings``, counts."""
    rewards = np.asarray([log.reward for log in logs], dtype=np.float64)
    propensities = np.asarray([log.propensity for log in logs], dtype=np.float64)
    target = target_probabilities(logs, settings, seed=seed)
    weights = target / propensities if len(logs) else np.zeros(0)
    est_ips, est_snips = bootstrap(weights, rewards, seed=seed)
    deterministic = bool(len(logs)) and bool(np.all(propensities >= 1.0))
    return {
        "decisions": len(logs),
        "skipped": skipped,
        "matched": int(np.sum(target > 0)),
        "logged": logged_value(rewards).describe(),
        "ips": est_ips.describe(),
        "snips": est_snips.describe(),
        "max_weight": round(float(weights.max()), 3) if len(logs) else None,
        "policy": settings.routing.policy,
        "warning": (
            "the log comes from a deterministic policy (propensity 1): models it did not "
            "choose were never tried, so these estimates only see where both agree"
            if deterministic
            else None
        ),
    }


StoredRow = tuple[Mapping[str, Any], str, float, float, float]
"""A rated decision as stored: ``(scores, model, propensity, outcome, confidence)``."""


def read_logs(rows: Sequence[StoredRow]) -> list[Logged]:
    """The stored rows a replay can use; rows logged by an older version are left out."""
    return [
        logged
        for scores, model, propensity, outcome, confidence in rows
        if (logged := Logged.from_row(scores, model, propensity, outcome, confidence))
    ]


def replay_rows(
    rows: Sequence[StoredRow],
    settings: Settings,
    *,
    missing: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """``replay`` over stored rows."""
    logs = read_logs(rows)
    return replay(logs, settings, seed=seed, skipped=missing + len(rows) - len(logs))
