"""Run the mini-evaluation against one model, score it, and store the measured scores.

The generator is injected (``generate(task) -> text``), so the same runner
serves the daemon (the model manager's ``chat``) and unit tests (a fake).
Coding answers are executed in the sandbox; math and instruction answers are
checked exactly. Progress is reported after every task.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from localforge.errors import Timeout
from localforge.models.catalogue import store as catalogue_store
from localforge.models.evaluation.sandbox import run_python
from localforge.models.evaluation.tasks import SUITE, EvalTask, check_math, coding_program

if TYPE_CHECKING:
    from localforge.models.catalogue.registry import ModelRegistry
    from localforge.storage.database import Database

Generate = Callable[[EvalTask], Awaitable[str]]
OnProgress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class TaskResult:
    task: str
    category: str
    passed: bool
    detail: str
    response: str
    generate_ms: float
    check_ms: float


@dataclass
class EvalReport:
    model: str
    suite: str
    started_at: float
    results: list[TaskResult] = field(default_factory=list)

    @property
    def categories(self) -> dict[str, tuple[int, int]]:
        """category -> (passed, total)."""
        out: dict[str, tuple[int, int]] = {}
        for result in self.results:
            passed, total = out.get(result.category, (0, 0))
            out[result.category] = (passed + int(result.passed), total + 1)
        return out

    @property
    def scores(self) -> dict[str, float]:
        return {cat: passed / total for cat, (passed, total) in self.categories.items() if total}

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "suite": self.suite,
            "tasks": len(self.results),
            "passed": sum(r.passed for r in self.results),
            "scores": {cat: round(score, 4) for cat, score in self.scores.items()},
            "categories": {
                cat: {"passed": p, "total": t} for cat, (p, t) in self.categories.items()
            },
            "results": [asdict(r) for r in self.results],
            "duration_s": round(time.time() - self.started_at, 3),
        }


async def check_answer(
    task: EvalTask, response: str, *, sandbox_timeout_s: float = 5.0
) -> tuple[bool, str]:
    if task.category == "coding":
        result = await run_python(coding_program(task, response), timeout_s=sandbox_timeout_s)
        return result.ok, result.summary
    if task.category == "math":
        return check_math(task, response)
    if task.check is None:
        raise ValueError(f"task {task.id} has no checker")
    return task.check(response)


async def evaluate(
    model: str,
    tasks: Sequence[EvalTask],
    generate: Generate,
    *,
    on_progress: OnProgress | None = None,
    sandbox_timeout_s: float = 5.0,
) -> EvalReport:
    """Ask the model every task and check each answer; a generation timeout fails that task only.

    Any other error (the model cannot be loaded, the daemon is stopping) ends the run.
    """
    report = EvalReport(model, SUITE, time.time())
    total = len(tasks)
    for index, task in enumerate(tasks):
        if on_progress is not None:
            on_progress({"phase": "task", "done": index, "total": total, "task": task.id})
        started = time.perf_counter()
        try:
            response = await generate(task)
        except Timeout as exc:
            response, passed, detail = "", False, f"generation timed out: {exc.message}"
            generated = time.perf_counter()
        else:
            generated = time.perf_counter()
            passed, detail = await check_answer(task, response, sandbox_timeout_s=sandbox_timeout_s)
        result = TaskResult(
            task=task.id,
            category=task.category,
            passed=passed,
            detail=detail,
            response=response[:600],
            generate_ms=round((generated - started) * 1000, 1),
            check_ms=round((time.perf_counter() - generated) * 1000, 1),
        )
        report.results.append(result)
        if on_progress is not None:
            on_progress(
                {
                    "phase": "result",
                    "done": index + 1,
                    "total": total,
                    "task": task.id,
                    "category": task.category,
                    "passed": passed,
                    "detail": detail,
                }
            )
    return report


async def store_report(registry: ModelRegistry, storage: Database, report: EvalReport) -> int:
    """Save the run, replace the model's measured scores, and let the registry rebuild its spec."""
    results = [asdict(r) for r in report.results]
    run_id = await storage.run(
        lambda conn: catalogue_store.save_eval_run(
            conn, report.model, report.suite, report.started_at, results, report.categories
        )
    )
    measured = await storage.run(catalogue_store.load_measured)
    await registry.set_measured(report.model, measured.get(report.model, {}))
    return run_id
