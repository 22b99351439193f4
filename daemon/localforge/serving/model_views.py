"""How the catalogue's models look to a person or a client: summaries and full details."""

from __future__ import annotations

from typing import Any

from localforge.benchmarks import BENCHMARK_KEYS, NEUTRAL_PRIOR
from localforge.models.catalogue.spec import ModelSpec
from localforge.models.catalogue.store import MeasuredScore


def spec_summary(spec: ModelSpec, resident: set[str]) -> dict[str, Any]:
    gguf = spec.details.get("gguf", {})
    benchmarks = spec.details.get("benchmarks", {})
    return {
        "name": spec.name,
        "source": spec.source,
        "path": str(spec.path) if spec.path else None,
        "url": spec.url,
        "broken": False,
        "family": spec.family,
        "architecture": gguf.get("architecture"),
        "parameters": gguf.get("parameters"),
        "quantization": gguf.get("quantization"),
        "n_ctx": spec.n_ctx,
        "memory_bytes": spec.memory_bytes,
        "prompt_format": spec.prompt_format,
        "fim": spec.fim is not None,
        "benchmarks": dict(spec.benchmarks),
        "neutral_prior": not spec.benchmarks,
        "benchmark_family": benchmarks.get("family"),
        "pinned": spec.pinned,
        "tags": list(spec.tags),
        "resident": spec.name in resident,
    }


def spec_details(
    spec: ModelSpec, resident: set[str], measured: dict[str, MeasuredScore]
) -> dict[str, Any]:
    out = spec_summary(spec, resident)
    benchmarks = spec.details.get("benchmarks", {})
    out.update(
        {
            "n_gpu_layers": spec.n_gpu_layers,
            "ttl_s": spec.ttl_s,
            "gguf": spec.details.get("gguf"),
            "memory": spec.details.get("memory"),
            "prompt_format_reason": spec.details.get("prompt_format_reason"),
            "has_chat_template": spec.chat_template is not None,
            "fim_tokens": None
            if spec.fim is None
            else {
                "prefix": spec.fim.prefix,
                "suffix": spec.fim.suffix,
                "middle": spec.fim.middle,
                "eot": spec.fim.eot,
            },
            "benchmark_sources": dict(spec.benchmark_sources),
            "benchmarks_missing": [k for k in BENCHMARK_KEYS if k not in spec.benchmarks],
            "benchmark_note": benchmarks.get("note"),
            "neutral_prior_value": NEUTRAL_PRIOR,
            "measured": {
                category: {
                    "score": round(row.score, 4),
                    "passed": row.passed,
                    "total": row.total,
                    "measured_at": row.measured_at,
                }
                for category, row in measured.items()
            },
            "generation": spec.generation.describe(),
            "warning": spec.details.get("warning"),
        }
    )
    return out
