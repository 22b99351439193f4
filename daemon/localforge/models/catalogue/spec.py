"""What the daemon knows about one model before loading it.

A ``ModelSpec`` is immutable: the registry replaces a spec (and says
"changed") rather than mutating it, so holders of an old spec never see a
half-updated one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FimTokens:
    """Fill-in-the-middle markers as they appear in the model's vocabulary."""

    prefix: str
    suffix: str
    middle: str
    eot: str | None = None


@dataclass(frozen=True)
class GenerationDefaults:
    """How a chat answer is sampled when the request does not say (``[[models]]`` may set each).

    ``source`` says where the values came from, for ``lfctl models show``.
    """

    temperature: float = 0.7
    top_p: float = 0.95
    repeat_penalty: float = 1.0
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    source: str = "defaults"

    def describe(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "repeat_penalty": self.repeat_penalty,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
            "source": self.source,
        }


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: Path | None  # local GGUF
    url: str | None  # remote OpenAI-compatible server base URL
    n_ctx: int
    n_gpu_layers: int
    family: str | None
    prompt_format: str  # "gguf-template" | "plain" | "chatml" | "gemma" | "llama3" | ...
    chat_template: str | None  # from GGUF metadata
    fim: FimTokens | None  # from GGUF tokens/metadata
    benchmarks: Mapping[
        str, float
    ]  # raw published numbers: humaneval, gsm8k, mmlu_pro, mt_bench (0-10), gpqa
    benchmark_sources: Mapping[str, str]
    pinned: bool
    ttl_s: float | None
    tags: tuple[str, ...]
    memory_bytes: int | None  # weights + KV cache at n_ctx + overhead
    source: str  # "config" | "dir" | "bundled" | "added"
    # Extra facts for display (architecture, quantisation, why this prompt format, ...).
    details: Mapping[str, Any] = field(default_factory=dict, compare=False)
    generation: GenerationDefaults = field(default_factory=GenerationDefaults)

    @property
    def is_remote(self) -> bool:
        return self.url is not None
