"""The mini-evaluation: answer extraction, checks, the sandbox, scoring and stored scores."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from localforge.errors import ModelError, Timeout
from localforge.models.catalogue import store as catalogue_store
from localforge.models.catalogue.registry import ModelRegistry
from localforge.models.evaluation.runner import check_answer, evaluate, store_report
from localforge.models.evaluation.sandbox import run_python
from localforge.models.evaluation.tasks import (
    CATEGORIES,
    SUITE,
    TASKS,
    EvalTask,
    extract_code,
    extract_number,
    select_tasks,
)
from localforge.settings import Settings, StorageSettings
from localforge.storage.database import Database
from tests.support.gguf_files import write_tiny_gguf


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


# Reference answers a perfect model would give (used as a fake generator).
PERFECT = {
    "code-sum-evens": (
        "```python\ndef sum_of_evens(numbers):\n"
        "    return sum(n for n in numbers if n % 2 == 0)\n```"
    ),
    "code-reverse-words": (
        "Here you go:\n```python\ndef reverse_words(sentence):\n"
        "    return ' '.join(reversed(sentence.split()))\n```\nDone."
    ),
    "code-palindrome": (
        "def is_palindrome(text):\n    s = [c.lower() for c in text if c.isalnum()]\n"
        "    return s == s[::-1]\n"
    ),
    "code-second-largest": (
        "```py\ndef second_largest(numbers):\n    values = sorted(set(numbers))\n"
        "    return values[-2] if len(values) > 1 else None\n```"
    ),
    "math-muffins": "7 * 12 = 84, 84 - 65 = 19.\nAnswer: 19",
    "math-pencils": "3 * 24 = 72; 72 - 17 = 55; 55 / 5 = 11\nAnswer: 11",
    "math-train": "80*2.5 = 200 and 60*1.5 = 90, so 290 km in total.",
    "math-discount": "40 * 0.75 = 30, minus 5 gives $25.00\nAnswer: $25.00",
    "inst-one-word": "blue",
    "inst-three-fruits": "apple, banana, cherry",
    "inst-all-caps": "THE SKY IS BLUE.",
    "inst-json": '```json\n{"city": "Paris"}\n```',
}

WRONG = {
    "code-sum-evens": "```python\ndef sum_of_evens(numbers):\n    return sum(numbers)\n```",
    "code-reverse-words": "def reverse_words(sentence):\n    return sentence[::-1]\n",
    "code-palindrome": "```python\ndef is_palindrome(text):\n    return text == text[::-1]\n```",
    "code-second-largest": "I cannot write code.",
    "math-muffins": "Answer: 84",
    "math-pencils": "There are 55 left.",
    "math-train": "It travels 280 km.",
    "math-discount": "Answer: 30",
    "inst-one-word": "Blue.",
    "inst-three-fruits": "apple, banana",
    "inst-all-caps": "The sky is BLUE",
    "inst-json": "{'city': 'Paris'}",
}


def test_every_category_has_tasks_and_ids_are_unique() -> None:
    assert {t.category for t in TASKS} == set(CATEGORIES)
    assert len({t.id for t in TASKS}) == len(TASKS)
    assert set(PERFECT) == {t.id for t in TASKS} == set(WRONG)
    assert [t.category for t in select_tasks(("math",), 2)] == ["math", "math"]
    assert len(select_tasks(limit=1)) == len(CATEGORIES)


def test_extract_code_variants() -> None:
    assert extract_code("```python\nx = 1\n```\ntext") == "x = 1\n"
    assert extract_code("Sure!\ndef f():\n    pass") == "def f():\n    pass"
    assert extract_code("```\ny = 2\n") == "y = 2\n"  # unterminated fence (max_tokens hit)


def test_extract_number_variants() -> None:
    assert extract_number("so 3 + 4 = 7\nAnswer: 7") == "7"
    assert extract_number("Answer: $1,250.00") == "1250"
    assert extract_number("the total is 12, not 13.") == "13"
    assert extract_number("answer = -4") == "-4"
    assert extract_number("no digits") is None


def test_perfect_answers_pass_every_task() -> None:
    async def scenario() -> list[tuple[str, bool, str]]:
        out = []
        for task in TASKS:
            passed, detail = await check_answer(task, PERFECT[task.id])
            out.append((task.id, passed, detail))
        return out

    results = run(scenario())
    failed = [(tid, detail) for tid, passed, detail in results if not passed]
    assert failed == []


def test_wrong_answers_fail_every_task() -> None:
    async def scenario() -> list[tuple[str, bool]]:
        return [(t.id, (await check_answer(t, WRONG[t.id]))[0]) for t in TASKS]

    assert [tid for tid, passed in run(scenario()) if passed] == []


def test_sandbox_runs_code_and_reports_failures() -> None:
    ok = run(run_python("print('hi')"))
    assert ok.ok and ok.stdout.strip() == "hi" and not ok.timed_out
    bad = run(run_python("assert 1 == 2, 'nope'"))
    assert not bad.ok and "AssertionError: nope" in bad.summary


def test_sandbox_timeout_kills_runaway_code() -> None:
    started = time.perf_counter()
    result = run(run_python("while True:\n    pass\n", timeout_s=1.0))
    assert result.timed_out and not result.ok and result.summary == "timed out"
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    ("code", "blocked"),
    [
        ("import socket\nsocket.socket().connect(('127.0.0.1', 9))", "socket"),
        ("import subprocess\nsubprocess.run(['true'])", "subprocess"),
        ("import os\nos.system('true')", "os.system"),
        ("open('/tmp/lf-sandbox-escape.txt', 'w').write('x')", "writing outside"),
        ("import ctypes\nctypes.CDLL(None)", "ctypes"),
        ("import os\nos.remove('/etc/hostname')", "outside the working directory"),
    ],
)
def test_sandbox_blocks_escapes(code: str, blocked: str) -> None:
    result = run(run_python(code))
    assert not result.ok
    assert "sandbox:" in result.stderr and blocked in result.stderr
    assert not Path("/tmp/lf-sandbox-escape.txt").exists()


def test_sandbox_allows_work_inside_its_directory() -> None:
    code = "open('scratch.txt', 'w').write('ok')\nprint(open('scratch.txt').read())"
    result = run(run_python(code))
    assert result.ok and result.stdout.strip() == "ok"


def test_sandbox_memory_limit() -> None:
    result = run(run_python("x = bytearray(2 * 1024**3)", memory_mb=256))
    assert not result.ok and "MemoryError" in result.stderr


def test_evaluate_scores_per_category_with_progress() -> None:
    answers = dict(PERFECT)
    answers["math-train"] = WRONG["math-train"]
    answers["inst-json"] = WRONG["inst-json"]
    progress: list[dict[str, Any]] = []

    async def generate(task: EvalTask) -> str:
        return answers[task.id]

    report = run(evaluate("fake", list(TASKS), generate, on_progress=progress.append))
    assert report.suite == SUITE
    assert report.categories == {"coding": (4, 4), "math": (3, 4), "instruction": (3, 4)}
    assert report.scores == {"coding": 1.0, "math": 0.75, "instruction": 0.75}
    results = [p for p in progress if p["phase"] == "result"]
    assert [p["done"] for p in results] == list(range(1, len(TASKS) + 1))
    assert results[-1]["total"] == len(TASKS)
    described = report.describe()
    assert described["passed"] == 10 and described["tasks"] == 12


def test_generation_timeout_fails_one_task_other_errors_stop_the_run() -> None:
    async def slow(task: EvalTask) -> str:
        if task.id == "math-muffins":
            raise Timeout("generation took longer than 1s")
        return PERFECT[task.id]

    report = run(evaluate("fake", select_tasks(("math",)), slow))
    assert report.categories == {"math": (3, 4)}
    assert "timed out" in report.results[0].detail

    async def broken(task: EvalTask) -> str:
        raise ModelError("model file is truncated")

    with pytest.raises(ModelError):
        run(evaluate("fake", select_tasks(("math",)), broken))


def test_store_report_saves_scores_and_updates_the_registry(tmp_path: Path) -> None:
    db = Database(tmp_path / "lf.db", StorageSettings())
    db.open()
    try:
        model = write_tiny_gguf(tmp_path / "m.gguf")
        config = Settings.model_validate({"models": [{"name": "m", "path": str(model)}]})
        registry = ModelRegistry(lambda: config, db, bundled=None, watch=False)

        async def generate(task: EvalTask) -> str:
            return PERFECT[task.id] if task.category != "math" else "Answer: 0"

        async def scenario() -> int:
            await registry.start()
            assert registry.get("m").benchmarks == {}
            report = await evaluate("m", select_tasks(limit=2), generate)
            return await store_report(registry, db, report)

        run_id = run(scenario())
        assert run_id > 0
        spec = registry.get("m")
        assert spec.benchmarks == {"humaneval": 100.0, "gsm8k": 0.0, "mt_bench": 10.0}
        assert "lfctl models eval" in spec.benchmark_sources["humaneval"]
        stored = db.call(catalogue_store.load_measured)["m"]
        assert {c: (s.passed, s.total) for c, s in stored.items()} == {
            "coding": (2, 2),
            "math": (0, 2),
            "instruction": (2, 2),
        }
        # a fresh registry (a daemon restart) reads the measured scores back
        again = ModelRegistry(lambda: config, db, bundled=None, watch=False)
        run(again.start())
        assert again.get("m").benchmarks == spec.benchmarks
    finally:
        db.close()
