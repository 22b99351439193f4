"""Turn a config entry, a discovered file or a remote URL into a ``ModelSpec``.

The GGUF header supplies the facts (architecture, size, template, FIM tokens);
the config may override the prompt format, context, benchmarks and policy; the
benchmark table supplies published scores; the mini-eval supplies measured
ones. Each spec's ``details`` says where the less obvious choices came from —
the prompt format above all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from localforge.models.catalogue.benchmarks import BenchmarkTable, resolve_scores
from localforge.models.catalogue.spec import GenerationDefaults, ModelSpec
from localforge.models.gguf.info import GgufInfo, estimate_memory, read_gguf_info
from localforge.models.runtime.prompts import GGUF_TEMPLATE, SERVER_TEMPLATE
from localforge.settings import ModelEntry

DEFAULT_N_CTX = 4096
# Conversation formats for instruction-tuned models whose GGUF lacks a template.
FAMILY_FORMATS = {
    "gemma": "gemma",
    "gemma2": "gemma",
    "gemma3": "gemma",
    "qwen2": "chatml",
    "qwen3": "chatml",
    "phi3": "phi3",
}
_INSTRUCT_MARKERS = ("instruct", "-it", "chat", "-sft", "-dpo")
# How chat answers are sampled unless [[models]] or the request says otherwise.
GENERAL_GENERATION = GenerationDefaults(source="defaults")
# A base model (no chat template, not instruction-tuned, like the bundled Gemma 3 270M) wanders
# at 0.7 and can fall into loops ("5555…" for 512 tokens): cooler, with a repeat penalty and a
# shorter answer (on a few sample questions it answered "Paris." where 0.7 rambled).
BASE_GENERATION = GenerationDefaults(
    temperature=0.3,
    top_p=0.9,
    repeat_penalty=1.1,
    max_tokens=256,
    source="base-model defaults (no chat template, not instruction-tuned)",
)


def spec_from_file(
    name: str,
    path: Path,
    *,
    source: str,
    entry: ModelEntry | None = None,
    measured: Mapping[str, float] | None = None,
    measured_source: Mapping[str, str] | str = "measured",
    table: BenchmarkTable | None = None,
) -> ModelSpec:
    """Read ``path``'s header and build its spec; ModelError when the file is unusable."""
    info = read_gguf_info(path)
    n_ctx = (
        entry.n_ctx
        if entry is not None
        else min(DEFAULT_N_CTX, info.context_length or DEFAULT_N_CTX)
    )
    names = [name, info.name, _joined_name(info), path.name]
    scores = resolve_scores(
        names,
        configured=entry.benchmarks if entry else None,
        measured=measured,
        measured_source=measured_source,
        table=table,
    )
    prompt_format, reason = choose_prompt_format(info, entry.prompt_format if entry else None)
    memory = estimate_memory(info, n_ctx)
    details: dict[str, Any] = {
        "gguf": info.describe(),
        "memory": memory.describe(),
        "prompt_format_reason": reason,
        "benchmarks": scores.describe(),
    }
    if info.context_length and n_ctx > info.context_length:
        details["warning"] = (
            f"n_ctx {n_ctx} is above the model's trained context {info.context_length}: "
            "answers may degrade past it"
        )
    return ModelSpec(
        name=name,
        path=path,
        url=None,
        n_ctx=n_ctx,
        n_gpu_layers=entry.n_gpu_layers if entry else -1,
        family=(entry.family if entry and entry.family else scores.family or info.architecture),
        prompt_format=prompt_format,
        chat_template=info.chat_template,
        fim=info.fim,
        benchmarks=dict(scores.values),
        benchmark_sources=dict(scores.sources),
        pinned=entry.pinned if entry else False,
        ttl_s=entry.ttl_s if entry else None,
        tags=tuple(entry.tags) if entry else (),
        memory_bytes=memory.total_bytes,
        source=source,
        details=details,
        generation=generation_defaults(
            entry, base=info.chat_template is None and not _looks_instruct(info)
        ),
    )


def spec_from_url(
    entry: ModelEntry,
    *,
    measured: Mapping[str, float] | None = None,
    measured_source: Mapping[str, str] | str = "measured",
    table: BenchmarkTable | None = None,
) -> ModelSpec:
    assert entry.url is not None
    scores = resolve_scores(
        [entry.name, entry.family],
        configured=entry.benchmarks,
        measured=measured,
        measured_source=measured_source,
        table=table,
    )
    prompt_format = entry.prompt_format or SERVER_TEMPLATE
    reason = (
        f"set in config (prompt_format = {entry.prompt_format!r})"
        if entry.prompt_format
        else "remote server: it applies the model's own chat template"
    )
    return ModelSpec(
        name=entry.name,
        path=None,
        url=entry.url.rstrip("/"),
        n_ctx=entry.n_ctx,
        n_gpu_layers=entry.n_gpu_layers,
        family=entry.family or scores.family,
        prompt_format=prompt_format,
        chat_template=None,
        fim=None,
        benchmarks=dict(scores.values),
        benchmark_sources=dict(scores.sources),
        pinned=entry.pinned,
        ttl_s=entry.ttl_s,
        tags=tuple(entry.tags),
        memory_bytes=None,
        source="config",
        details={"prompt_format_reason": reason, "benchmarks": scores.describe()},
        generation=generation_defaults(entry, base=False),
    )


def generation_defaults(entry: ModelEntry | None, *, base: bool) -> GenerationDefaults:
    """The model's sampling defaults: each key from ``[[models]]`` when set, else the built-in."""
    built_in = BASE_GENERATION if base else GENERAL_GENERATION
    if entry is None:
        return built_in
    keys = ("temperature", "top_p", "repeat_penalty", "max_tokens")
    configured = {key: getattr(entry, key) for key in keys if getattr(entry, key) is not None}
    if entry.stop:
        configured["stop"] = tuple(entry.stop)
    if not configured:
        return built_in
    source = f"set in config ({', '.join(sorted(configured))}); others: {built_in.source}"
    return replace(built_in, **configured, source=source)


def choose_prompt_format(info: GgufInfo, configured: str | None) -> tuple[str, str]:
    """The format to prompt this model with, and why (shown by ``lfctl models show``)."""
    if configured:
        return configured, f"set in config (prompt_format = {configured!r})"
    if info.chat_template:
        return GGUF_TEMPLATE, "the GGUF carries a chat template: llama.cpp renders it"
    label = info.name or info.path.name
    if _looks_instruct(info):
        family_format = FAMILY_FORMATS.get(info.architecture)
        if family_format:
            return family_format, (
                f"the GGUF has no chat template; {label!r} looks instruction-tuned, so the "
                f"{info.architecture} family's '{family_format}' format is used "
                "(set prompt_format in [[models]] to choose another)"
            )
    return "plain", (
        f"the GGUF has no chat template and {label!r} looks like a base model: a plain "
        "'User:'/'Assistant:' transcript it can continue is used "
        "(set prompt_format in [[models]] to choose another)"
    )


def _looks_instruct(info: GgufInfo) -> bool:
    text = (
        " ".join(filter(None, [info.name, info.finetune, info.path.name])).lower().replace("_", "-")
    )
    return any(marker in text for marker in _INSTRUCT_MARKERS)


def _joined_name(info: GgufInfo) -> str | None:
    basename = info.metadata.get("general.basename")
    parts = [p for p in (basename, info.size_label, info.finetune) if isinstance(p, str) and p]
    return "-".join(parts) if parts else None
