"""The built-in mini-evaluation as a stream: progress events, then the stored scores."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from localforge.errors import InvalidParams
from localforge.models.evaluation.runner import evaluate
from localforge.models.evaluation.tasks import CATEGORIES, EvalTask, select_tasks
from localforge.serving.events import EvalProgress, Event
from localforge.serving.ports import Catalogue, Runner, StoreReport
from localforge.serving.requests import EvalRequest
from localforge.serving.streams import Emit, progress_to, run_events


def evaluation_events(
    catalogue: Catalogue, runner: Runner, store_report: StoreReport | None, request: EvalRequest
) -> AsyncIterator[Event]:
    """Evaluate ``request.name`` on the chosen tasks; store the report when a store is given."""
    spec = catalogue.get(request.name)
    unknown = [c for c in request.categories or () if c not in CATEGORIES]
    if unknown:
        raise InvalidParams(
            f"unknown eval categories {', '.join(unknown)}; use {', '.join(CATEGORIES)}"
        )
    tasks = select_tasks(request.categories, request.limit)

    async def work(emit: Emit) -> dict[str, Any]:
        on_load = progress_to(emit, spec.name)

        async def generate(task: EvalTask) -> str:
            completion = await runner.chat(
                spec,
                [{"role": "user", "content": task.prompt}],
                on_progress=on_load,
                max_tokens=max(8, int(task.max_tokens * request.max_tokens_scale)),
                temperature=request.temperature,
            )
            return completion.text

        def on_progress(event: dict[str, Any]) -> None:
            emit(EvalProgress(spec.name, event))

        report = await evaluate(spec.name, tasks, generate, on_progress=on_progress)
        result = report.describe()
        if store_report is not None:
            result["run_id"] = await store_report(report)
        updated = catalogue.get(spec.name)
        result.update(
            benchmarks=dict(updated.benchmarks),
            benchmark_sources=dict(updated.benchmark_sources),
        )
        return result

    return run_events(work)
