"""models.list, models.show, models.add, models.remove, models.eval (the model catalogue)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from localforge.errors import InvalidParams, NotFound, Unavailable
from localforge.models.benchmarks import BENCHMARK_KEYS, NEUTRAL_PRIOR
from localforge.models.eval_tasks import CATEGORIES, EvalTask, select_tasks
from localforge.models.evaluation import evaluate, store_report
from localforge.models.registry import BrokenModel, ModelRegistry
from localforge.models.spec import ModelSpec
from localforge.rpc.dispatch import CallContext, Method, NoParams, Params
from localforge.rpc.methods.inference import load_progress


class NameParams(Params):
    name: str = Field(description="model name (lfctl models list)")


class AddParams(Params):
    path: str = Field(description="absolute path of a .gguf file")
    name: str | None = Field(None, description="name to register it under (default: file name)")


class EvalParams(Params):
    name: str = Field(description="model to evaluate")
    categories: list[str] | None = Field(
        None, description="coding, math, instruction (default all)"
    )
    limit: int | None = Field(
        None, ge=1, le=100, description="at most this many tasks per category"
    )
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens_scale: float = Field(1.0, gt=0, le=4, description="scale each task's token budget")


def _resident(ctx: CallContext) -> set[str]:
    manager = getattr(ctx.app, "models", None)
    resident = getattr(manager, "resident", None)
    if resident is None:
        return set()
    try:
        return set(resident())
    except Exception:
        return set()


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


def spec_details(registry: ModelRegistry, spec: ModelSpec, resident: set[str]) -> dict[str, Any]:
    out = spec_summary(spec, resident)
    measured = registry.measured(spec.name)
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
            "warning": spec.details.get("warning"),
        }
    )
    return out


async def list_models(ctx: CallContext, _: NoParams) -> dict[str, Any]:
    registry: ModelRegistry = ctx.app.registry
    resident = _resident(ctx)
    return {
        "models": [spec_summary(spec, resident) for spec in registry.list()],
        "broken": [broken.describe() for broken in registry.broken()],
        "pending": [str(path) for path in registry.pending],
        "neutral_prior": NEUTRAL_PRIOR,
    }


async def show_model(ctx: CallContext, params: NameParams) -> dict[str, Any]:
    registry: ModelRegistry = ctx.app.registry
    found = registry.find(params.name)
    if found is None:
        registry.get(params.name)  # raises NotFound listing the known names
        raise NotFound(f"no model named '{params.name}'")
    if isinstance(found, BrokenModel):
        return found.describe()
    return spec_details(registry, found, _resident(ctx))


async def add_model(ctx: CallContext, params: AddParams) -> dict[str, Any]:
    path = Path(params.path).expanduser()
    if not path.is_absolute():
        raise InvalidParams(f"path {params.path!r} is relative: send an absolute path")
    registry: ModelRegistry = ctx.app.registry
    spec = await registry.add(path, params.name)
    return spec_details(registry, spec, _resident(ctx))


async def remove_model(ctx: CallContext, params: NameParams) -> dict[str, Any]:
    registry: ModelRegistry = ctx.app.registry
    return await registry.remove(params.name)


async def eval_model(ctx: CallContext, params: EvalParams) -> dict[str, Any]:
    registry: ModelRegistry = ctx.app.registry
    spec = registry.get(params.name)
    manager = getattr(ctx.app, "models", None)
    if manager is None:
        raise Unavailable("this daemon has no inference service, so it cannot evaluate models")
    unknown = [c for c in params.categories or () if c not in CATEGORIES]
    if unknown:
        raise InvalidParams(
            f"unknown eval categories {', '.join(unknown)}; use {', '.join(CATEGORIES)}"
        )
    tasks = select_tasks(tuple(params.categories) if params.categories else None, params.limit)

    on_load = load_progress(ctx.stream, spec.name)

    async def generate(task: EvalTask) -> str:
        completion = await manager.chat(
            spec,
            [{"role": "user", "content": task.prompt}],
            on_progress=on_load,
            max_tokens=max(8, int(task.max_tokens * params.max_tokens_scale)),
            temperature=params.temperature,
        )
        return str(completion.text)

    def on_progress(event: dict[str, Any]) -> None:
        ctx.stream({"type": "eval", "model": spec.name, **event})

    report = await evaluate(spec.name, tasks, generate, on_progress=on_progress)
    stored = await store_report(registry, ctx.app.storage, report)
    result = report.describe()
    updated = registry.get(spec.name)
    result.update(
        {
            "run_id": stored,
            "benchmarks": dict(updated.benchmarks),
            "benchmark_sources": dict(updated.benchmark_sources),
        }
    )
    return result


def methods() -> list[Method[Any]]:
    return [
        Method(
            "models.list",
            NoParams,
            list_models,
            "every registered model, broken files and pending ones",
        ),
        Method(
            "models.show",
            NameParams,
            show_model,
            "one model: GGUF facts, memory, prompt format, scores",
        ),
        Method(
            "models.add",
            AddParams,
            add_model,
            "register a GGUF file by path (kept across restarts)",
        ),
        Method("models.remove", NameParams, remove_model, "forget a model added by path"),
        Method(
            "models.eval",
            EvalParams,
            eval_model,
            "run the built-in mini-evaluation and store the measured scores; streams progress",
            streams=True,
        ),
    ]
