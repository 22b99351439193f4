"""The settings tree: one small pydantic model a section, validated once.

Environment names are derived from the tree: ``LOCALFORGE_<SECTION>_<KEY>``
(``LOCALFORGE_<KEY>`` for top-level keys); a field may declare another name with
``json_schema_extra={"env": "..."}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from localforge.benchmarks import score_problem

ENV_PREFIX = "LOCALFORGE_"
MIB = 1024 * 1024

Source = Literal["default", "file", "env", "flag"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DaemonSettings(Section):
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    max_frame_bytes: int = Field(16 * MIB, ge=1024, description="largest JSON-RPC frame accepted")
    shutdown_grace_s: float = Field(
        10.0, ge=0, description="time in-flight requests get on shutdown"
    )
    idle_frame_timeout_s: float = Field(
        30.0, gt=0, description="a connection that stalls mid-frame this long is closed"
    )


class StorageSettings(Section):
    synchronous: Literal["normal", "full"] = "full"
    busy_timeout_ms: int = Field(5000, ge=0)


class ClassifierSettings(Section):
    artifact: Path | None = Field(None, description="trained artifact; the bundled one when unset")
    features: Literal["tfidf", "tfidf+embedding"] = Field(
        "tfidf+embedding",
        description="bundled artifact to use: TF-IDF alone, or with the sentence embedding",
    )
    min_confidence: float = Field(
        0.6,
        ge=0,
        le=1,
        description="below this, route as general (a top label of math or hard_reasoning "
        "counts the other's probability with its own)",
    )
    max_chars: int = Field(
        4000, ge=16, description="longer queries are truncated before classifying"
    )


class EmbeddingSettings(Section):
    model: str = Field(
        "sentence-transformers/all-MiniLM-L6-v2",
        description="any fastembed model name, or the opt-in static/all-MiniLM-L6-v2",
    )
    max_chars: int = Field(2000, ge=16, description="longer texts are truncated before embedding")
    threads: int = Field(
        0, ge=0, le=256, description="ONNX threads per embedding; 0 = one per core"
    )
    compute: Literal["auto", "float"] = Field(
        "auto",
        description="auto: the default model computes in int8 where this CPU passes a probe "
        "(1.4-1.7x faster), else in float; float: always in float",
    )


class MemorySettings(Section):
    url: str | None = Field(None, description="Qdrant server; the embedded Qdrant Edge when unset")
    api_key: str | None = None
    collection: str = "localforge"
    store_text: bool = True
    top_k: int = Field(10, ge=1, le=1000)
    decay: float = Field(0.95, gt=0, le=1, description="λ per day in the memory score")
    outcome_half_life: float = Field(
        30.0,
        ge=0,
        description="a task type's counts halve their old outcomes at least every this many "
        "newer outcomes on it per model rated there, time decay included (0: only time decays "
        "them)",
    )
    change_window: int = Field(
        0,
        ge=0,
        le=64,
        description="a model's newest this many outcomes on a task type are tested against its "
        "older ones there; when they are unlikely under them, the older ones (and its similar "
        "past queries before the change) no longer count (0: off)",
    )
    change_level: float = Field(
        0.01,
        gt=0,
        lt=1,
        description="the change test's level: how unlikely the newest outcomes must be",
    )
    neighbour_half_life: float = Field(
        10.0,
        ge=0,
        description="a model's similar past queries count less the more of them are newer: "
        "the n-th newest keeps at most 0.5^(n/this) of its weight, time decay included (0: "
        "only time decays them)",
    )
    max_points: int = Field(1_000_000, ge=1)
    max_age_days: float | None = Field(None, gt=0)
    retention_interval_s: float = Field(
        3600.0, gt=0, description="how often max_points and max_age_days are applied"
    )
    optimize_interval_s: float = Field(
        30.0, gt=0, description="how often the embedded index is optimised after writes"
    )


class WeightSettings(Section):
    benchmark: float = Field(0.45, ge=0, json_schema_extra={"env": "LOCALFORGE_WEIGHT_BENCHMARK"})
    memory: float = Field(0.33, ge=0, json_schema_extra={"env": "LOCALFORGE_WEIGHT_MEMORY"})
    latency: float = Field(0.05, ge=0, json_schema_extra={"env": "LOCALFORGE_WEIGHT_LATENCY"})
    feedback: float = Field(0.17, ge=0, json_schema_extra={"env": "LOCALFORGE_WEIGHT_FEEDBACK"})

    @model_validator(mode="after")
    def _not_all_zero(self) -> WeightSettings:
        if self.benchmark + self.memory + self.latency + self.feedback <= 0:
            raise ValueError("at least one routing weight must be above 0")
        return self


class RoutingSettings(Section):
    fallback_confidence: float = Field(0.3, ge=0, le=1)
    fallback_min_queries: int = Field(2, ge=1)
    fallback_min_success: float = Field(0.6, ge=0, le=1)
    hysteresis: float = Field(0.02, ge=0, le=1, description="score gain a model swap must beat")
    fallback_min_similarity: float = Field(
        0.5, ge=-1, le=1, description="cosine similarity a past query needs to count as similar"
    )
    benchmark_prior_weight: float = Field(
        1.0,
        ge=0,
        description="evidence weight worth the benchmark: thompson's prior strength, times "
        "max(1, (m-1)/2) for m candidates; score: memory takes n/(n+this) of the benchmark's "
        "weight (0: off)",
    )
    exploration: float = Field(
        0.1,
        ge=0,
        le=1,
        description="score bonus for a model with little evidence: this/sqrt(1+evidence weight)",
    )
    same_task_memory: bool = Field(
        True, description="only past queries of the same task type count as memory evidence"
    )
    task_share_min: float = Field(
        0.15,
        ge=0,
        le=1,
        description="task types the classifier gives at least this probability share a "
        "decision in proportion (benchmark prior, task-type counts, similar queries); "
        "1: the routed task type alone",
    )
    policy: Literal["thompson", "score"] = Field(
        "thompson",
        description="thompson: draw each model's success from a Beta posterior (benchmark as "
        "prior, similar past outcomes as evidence); score: deterministic score + exploration",
    )
    task_evidence: float = Field(
        40.0,
        ge=0,
        description="thompson: most outcomes a model's decayed counts on the task type are worth "
        "in its posterior (0: only similar queries count)",
    )
    task_locality: float = Field(
        0.0,
        ge=0,
        le=1000,
        description="thompson: how much a model's count on its successes or its failures, "
        "whichever lie farther from the query, weighs less: it keeps exp(-this x the gap "
        "between the query's similarities to the two centroids, less what chance gives) "
        "(0: off)",
    )
    posterior_scale: float = Field(
        0.5,
        ge=0,
        le=1,
        description="thompson: spread of a draw around the posterior mean (1: plain Thompson "
        "sampling, 0: always the best mean)",
    )
    rated_share_power: float = Field(
        0.3,
        ge=0,
        le=2,
        description="thompson: draws narrow for a user who rates few decisions: posterior_scale "
        "x share^power, share = rated share of the newest 200 decisions of the request's kind "
        "(chat, code) (0: off)",
    )
    seed: int | None = Field(
        None,
        ge=0,
        description="thompson: seed of the posterior draws, for repeatable decisions "
        "(unset: fresh at each start; read at start)",
    )
    propensity_draws: int = Field(
        64, ge=1, le=4096, description="seeded posterior draws that estimate a choice's propensity"
    )


class ResidencySettings(Section):
    ram_budget_mb: int | None = Field(
        None, ge=64, description="CPU mode budget; 60% of RAM if unset"
    )
    vram_reserve_mb: int = Field(512, ge=0)
    default_ttl_s: float = Field(1800.0, ge=0)
    load_timeout_s: float = Field(120.0, gt=0)
    generate_timeout_s: float = Field(300.0, gt=0)
    max_group_wait_s: float = Field(
        8.0, ge=0, description="how long a request may wait while another model serves its queue"
    )
    preload: list[str] = Field(
        default_factory=list, description="models loaded at start (pinned ones are too)"
    )
    completion_model: str | list[str] | None = Field(
        None,
        description="model (or list of models) for code.complete requests that name none; "
        "preloaded and pinned; with several, completions are routed among the resident ones "
        "(unset: routed among resident models, like chat when none is)",
    )
    spare_worker: bool = Field(
        True, description="keep one started worker ready, so a load skips its start-up"
    )
    reuse_prompt_prefix: bool = Field(
        True,
        description="reuse the cached prompt prefix (faster; greedy output may differ in ties)",
    )
    safe_mode: Literal["auto", "on", "off"] = Field(
        "auto",
        description="auto: load without llama.cpp's extra buffer types only after a crash "
        "showed it is needed (remembered per file and machine); on: always; off: never",
    )

    def completion_models(self) -> list[str]:
        """``completion_model`` as a list of names (empty when unset)."""
        if self.completion_model is None:
            return []
        if isinstance(self.completion_model, str):
            return [self.completion_model]
        return list(dict.fromkeys(self.completion_model))

    cooldown_after: int = Field(
        3, ge=1, description="failures in a row after which auto routing skips a model a while"
    )
    cooldown_s: float = Field(
        30.0, gt=0, description="first cool-down; it doubles with each further failure, to 1 h"
    )
    max_queue: int = Field(
        64,
        ge=0,
        description="answers waiting or running at once, from every door; more are refused "
        "with a retry hint (0: no limit)",
    )


class HttpSettings(Section):
    listen: str | None = Field(
        None,
        description="HOST:PORT of the OpenAI / Ollama / llama-server door (`lfd serve --http`); "
        "off when unset",
    )
    allow_remote: bool = Field(
        False, description="allow a listen address that is not loopback (then a token is required)"
    )
    token: SecretStr | None = Field(
        None, description="bearer token every HTTP request must carry, when set"
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names accepted besides the listen address and localhost "
        "(a reverse proxy's public name)",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="browser origins allowed to call the door; none if empty"
    )
    max_body_bytes: int = Field(
        16 * MIB, ge=1024, description="largest request body accepted; larger ones get 413"
    )
    header_timeout_s: float = Field(
        10.0, gt=0, description="a connection must send its request head within this"
    )
    max_connections: int = Field(
        256, ge=1, description="open connections beyond this are answered 503"
    )

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            split_listen(value)
        return value


HTTP_RESTART_KEYS = (
    "http.listen",
    "http.allow_remote",
    "http.cors_origins",
    "http.header_timeout_s",
    "http.max_connections",
)  # the HTTP listener and its middleware are built at start; the rest is read per request


def split_listen(value: str) -> tuple[str, int]:
    """``"127.0.0.1:8010"`` -> ``("127.0.0.1", 8010)``; ``[::1]:8010`` for IPv6."""
    host, sep, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not HOST:PORT (for example 127.0.0.1:8010)")
    return host, int(port)


class LspSettings(Section):
    """The editor door (``lfd lsp``): context, latency and the feedback rules."""

    prefix_tokens: int = Field(
        1024, ge=16, description="estimated tokens of text before the cursor sent to the model"
    )
    suffix_tokens: int = Field(
        256, ge=0, description="estimated tokens of text after the cursor sent to the model"
    )
    max_tokens: int = Field(64, ge=1, le=1024, description="longest suggestion, in tokens")
    temperature: float = Field(0.0, ge=0, le=2, description="sampling temperature of suggestions")
    ring_chunks: int = Field(
        16, ge=0, description="chunks of other files kept as extra context (0: none)"
    )
    ring_chunk_lines: int = Field(32, ge=4, description="lines per extra-context chunk")
    ring_tokens: int = Field(
        512, ge=0, description="estimated tokens of extra context sent with a completion"
    )
    debounce_min_ms: float = Field(
        10.0, ge=0, description="shortest wait after a keystroke before the model is asked"
    )
    debounce_max_ms: float = Field(
        150.0, ge=0, description="longest wait after a keystroke (fast typists wait longer)"
    )
    cache_size: int = Field(256, ge=0, description="suggestions kept for reuse and typed-ahead")
    prefill_idle_ms: float = Field(
        300.0,
        ge=0,
        description="idle time after an edit before the model's KV cache is prefilled (0: off)",
    )
    min_shown_ms: float = Field(
        250.0, ge=0, description="a suggestion shown for less than this counts for nothing"
    )
    reject_after_s: float = Field(
        10.0, gt=0, description="a suggestion shown this long without acceptance is rejected"
    )
    persistence_check_s: float = Field(
        30.0, gt=0, description="how long after an accept the server checks what is left of it"
    )
    persistence_min_kept: float = Field(
        0.5,
        ge=0,
        le=1,
        description="below this share of the accepted text still in place, the accept is "
        "revised down to the share kept",
    )
    status_interval_s: float = Field(
        5.0, gt=0, description="how often the daemon's state is polled for localforge/status"
    )


class ModelEntry(Section):
    name: str = Field(min_length=1)
    path: Path | None = None
    url: str | None = None
    n_ctx: int = Field(4096, ge=64)
    n_gpu_layers: int = -1
    family: str | None = None
    prompt_format: str | None = None
    benchmarks: dict[str, float] = Field(default_factory=dict)
    pinned: bool = False
    ttl_s: float | None = Field(None, ge=0)
    tags: list[str] = Field(default_factory=list)
    load_time_ms: float | None = Field(None, ge=0, description="expected load time until measured")
    avg_latency_ms: float | None = Field(None, ge=0)
    # Chat answers when the request does not say; unset: the defaults in spec_build.
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    repeat_penalty: float | None = Field(None, ge=0.5, le=2)
    max_tokens: int | None = Field(None, ge=1, le=32768)
    stop: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _path_or_url(self) -> ModelEntry:
        if (self.path is None) == (self.url is None):
            raise ValueError(f"model '{self.name}' needs exactly one of 'path' or 'url'")
        return self

    @model_validator(mode="after")
    def _known_benchmarks(self) -> ModelEntry:
        for key, value in self.benchmarks.items():
            problem = score_problem(key, value)
            if problem is not None:
                raise ValueError(f"model '{self.name}': {problem}")
        return self


class Settings(Section):
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    weights: WeightSettings = Field(default_factory=WeightSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    residency: ResidencySettings = Field(default_factory=ResidencySettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    lsp: LspSettings = Field(default_factory=LspSettings)
    model_dirs: list[Path] = Field(default_factory=list)
    models: list[ModelEntry] = Field(default_factory=list)
