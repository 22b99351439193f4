"""The benchmarks routing knows: their keys, their scales and which task type each measures.

One documented scale per benchmark, stated here and nowhere else: HumanEval, GSM8K,
MMLU-Pro and GPQA are percentages (0-100), MT-Bench is its own 0-10 score. Config
validation, the bundled table, the mini-evaluation and the scorer all read these.
"""

from __future__ import annotations

from collections.abc import Mapping

# The top of each benchmark's scale.
BENCHMARK_SCALES: Mapping[str, float] = {
    "humaneval": 100.0,
    "gsm8k": 100.0,
    "mmlu_pro": 100.0,
    "mt_bench": 10.0,
    "gpqa": 100.0,
}
BENCHMARK_KEYS = tuple(BENCHMARK_SCALES)

# The benchmark that stands for each task type.
TASK_BENCHMARK: Mapping[str, str] = {
    "coding": "humaneval",
    "math": "gsm8k",
    "reasoning": "mmlu_pro",
    "instruction": "mt_bench",
    "hard_reasoning": "gpqa",
    "general": "mmlu_pro",
}

NEUTRAL_PRIOR = 0.5  # normalised score assumed for a benchmark a model has no number for


def score_problem(key: str, value: float) -> str | None:
    """Why ``key = value`` is not a valid score, or None when it is."""
    scale = BENCHMARK_SCALES.get(key)
    if scale is None:
        return f"unknown benchmark '{key}'; use one of {', '.join(BENCHMARK_KEYS)}"
    if not 0 <= value <= scale:
        return f"{key} = {value:g} is outside 0-{scale:g}"
    return None


def normalise_benchmark(key: str, value: float) -> float:
    """A published score on its own scale to [0, 1] (``humaneval = 88`` → 0.88)."""
    scale = BENCHMARK_SCALES.get(key, 100.0)
    return min(max(value / scale, 0.0), 1.0)


def benchmark_for(task_type: str) -> str:
    """The benchmark whose score stands for ``task_type`` (general's for unknown types)."""
    return TASK_BENCHMARK.get(task_type, TASK_BENCHMARK["general"])
