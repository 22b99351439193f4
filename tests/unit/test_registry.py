"""The model registry: sources, precedence, broken files, add/remove, events, scores."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localforge.errors import InvalidParams, ModelError, NotFound
from localforge.models.catalogue.benchmarks import BenchmarkTable, normalise_name, resolve_scores
from localforge.models.catalogue.registry import BUNDLED_NAME, ModelRegistry
from localforge.models.catalogue.spec import ModelSpec
from localforge.models.catalogue.store import MeasuredScore
from localforge.settings import Settings, StorageSettings
from localforge.storage.database import Database
from tests.support.gguf_files import (
    CHATML_TEMPLATE,
    write_not_gguf,
    write_tiny_gguf,
    write_truncated,
)


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


def settings(**values: Any) -> Settings:
    return Settings.model_validate(values)


def aged(path: Path, seconds: float = 10.0) -> Path:
    """Backdate a file's mtime so the registry sees it as finished."""
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "lf.db", StorageSettings())
    database.open()
    yield database
    database.close()


@pytest.fixture
def bundled(tmp_path: Path) -> Callable[[], Path]:
    path = write_tiny_gguf(tmp_path / "bundled" / "gemma-3-270m.gguf", name="Gemma 3 270m")
    return lambda: path


def make(
    config: Settings, *, db: Database | None = None, bundled: Callable[[], Path] | None = None
) -> ModelRegistry:
    return ModelRegistry(lambda: config, db, bundled=bundled, watch=False, settle_s=0.5)


def test_bundled_model_when_nothing_is_configured(bundled: Callable[[], Path]) -> None:
    registry = make(settings(), bundled=bundled)
    run(registry.start())
    spec = registry.get(BUNDLED_NAME)
    assert spec.source == "bundled"
    assert spec.prompt_format == "plain"  # no template, base model
    assert "no chat template" in spec.details["prompt_format_reason"]
    assert spec.benchmarks == {}  # neutral prior
    assert "neutral prior" in spec.details["benchmarks"]["note"]
    assert registry.status()["state"] == "ready"


def test_config_models_replace_the_bundled_one(tmp_path: Path, bundled: Callable[[], Path]) -> None:
    chat = write_tiny_gguf(tmp_path / "chat.gguf", chat_template=CHATML_TEMPLATE)
    coder = write_tiny_gguf(tmp_path / "coder.gguf", fim="qwen")
    config = settings(
        models=[
            {"name": "chat", "path": str(chat), "n_ctx": 1024, "tags": ["general"]},
            {"name": "coder", "path": str(coder), "pinned": True, "prompt_format": "chatml"},
            {"name": "far", "url": "http://127.0.0.1:9/v1/", "benchmarks": {"humaneval": 50}},
        ]
    )
    registry = make(config, bundled=bundled)
    run(registry.start())
    assert [s.name for s in registry.specs()] == ["chat", "coder", "far"]
    chat_spec = registry.get("chat")
    assert chat_spec.prompt_format == "gguf-template" and chat_spec.n_ctx == 1024
    assert chat_spec.tags == ("general",)
    assert chat_spec.memory_bytes and chat_spec.memory_bytes > chat.stat().st_size
    coder_spec = registry.get("coder")
    assert coder_spec.fim is not None and coder_spec.fim.prefix == "<|fim_prefix|>"
    assert coder_spec.pinned and coder_spec.prompt_format == "chatml"
    assert "set in config" in coder_spec.details["prompt_format_reason"]
    far = registry.get("far")
    assert far.url == "http://127.0.0.1:9/v1" and far.path is None and far.is_remote
    assert far.benchmarks == {"humaneval": 50} and far.benchmark_sources == {"humaneval": "config"}


def test_broken_config_entry_is_listed_not_fatal(tmp_path: Path) -> None:
    good = write_tiny_gguf(tmp_path / "good.gguf")
    bad = write_not_gguf(tmp_path / "bad.gguf")
    config = settings(
        models=[
            {"name": "good", "path": str(good)},
            {"name": "bad", "path": str(bad)},
            {"name": "gone", "path": str(tmp_path / "gone.gguf")},
        ]
    )
    registry = make(config)
    run(registry.start())
    assert [s.name for s in registry.specs()] == ["good"]
    reasons = {b.name: b.reason for b in registry.broken()}
    assert "not a GGUF file" in reasons["bad"]
    assert "does not exist" in reasons["gone"]
    with pytest.raises(ModelError, match=r"broken: .*not a GGUF"):
        registry.get("bad")
    with pytest.raises(NotFound, match="known models: good"):
        registry.get("nothing")


def test_directory_scan_skips_broken_partial_and_fresh_files(tmp_path: Path) -> None:
    models = tmp_path / "models"
    aged(write_tiny_gguf(models / "Alpha-7B-Instruct-Q4_K_M.gguf"))
    aged(write_tiny_gguf(models / "nested" / "beta.gguf"))
    aged(write_truncated(models / "cut.gguf", models / "nested" / "beta.gguf"))
    aged(write_tiny_gguf(models / "gamma.gguf.part"))
    aged(write_tiny_gguf(models / ".hidden.gguf"))
    aged(write_tiny_gguf(models / "mmproj-alpha.gguf"))
    write_tiny_gguf(models / "fresh.gguf")  # still being written as far as anyone can tell
    registry = make(settings(model_dirs=[str(models)]))
    run(registry.start())
    assert [s.name for s in registry.specs()] == ["alpha-7b-instruct-q4_k_m", "beta"]
    assert all(s.source == "dir" for s in registry.specs())
    assert [b.name for b in registry.broken()] == ["cut"]
    assert "truncated" in registry.broken()[0].reason
    assert registry.pending == [models / "fresh.gguf"]
    assert "still being written" in registry.status()["detail"]


def test_fresh_file_is_registered_once_settled(tmp_path: Path) -> None:
    models = tmp_path / "models"
    write_tiny_gguf(models / "fresh.gguf")
    registry = make(settings(model_dirs=[str(models)]))
    events: list[tuple[str, str]] = []
    registry.subscribe(lambda event, spec: events.append((event, spec.name)))

    async def scenario() -> None:
        await registry.start()
        assert registry.specs() == []
        await asyncio.sleep(1.0)  # the scheduled recheck after settle_s
        for _ in range(20):
            if registry.specs():
                break
            await asyncio.sleep(0.1)
        await registry.stop()

    run(scenario())
    assert [s.name for s in registry.specs()] == ["fresh"]
    assert events == [("added", "fresh")]


def test_config_wins_name_collisions(tmp_path: Path) -> None:
    models = tmp_path / "models"
    aged(write_tiny_gguf(models / "same.gguf", context_length=512))
    other = write_tiny_gguf(tmp_path / "other.gguf")
    registry = make(
        settings(model_dirs=[str(models)], models=[{"name": "same", "path": str(other)}])
    )
    run(registry.start())
    assert registry.get("same").source == "config"
    assert registry.get("same").path == other


def test_add_and_remove_persist(tmp_path: Path, db: Database, bundled: Callable[[], Path]) -> None:
    path = write_tiny_gguf(tmp_path / "added.gguf", chat_template=CHATML_TEMPLATE)
    registry = make(settings(), db=db, bundled=bundled)
    events: list[tuple[str, str]] = []
    registry.subscribe(lambda event, spec: events.append((event, spec.name)))

    async def add() -> ModelSpec:
        await registry.start()
        return await registry.add(path, "mine")

    spec = run(add())
    assert spec.source == "added" and spec.name == "mine"
    # the bundled model steps aside once something else is registered
    assert [s.name for s in registry.specs()] == ["mine"]
    assert ("added", "mine") in events and ("removed", BUNDLED_NAME) in events

    again = make(settings(), db=db, bundled=bundled)
    run(again.start())
    assert [s.name for s in again.specs()] == ["mine"]

    run(again.remove("mine"))
    assert [s.name for s in again.specs()] == [BUNDLED_NAME]
    third = make(settings(), db=db, bundled=bundled)
    run(third.start())
    assert [s.name for s in third.specs()] == [BUNDLED_NAME]


def test_add_rejects_broken_files_and_taken_names(
    tmp_path: Path, bundled: Callable[[], Path]
) -> None:
    registry = make(settings(), bundled=bundled)
    run(registry.start())
    bad = write_not_gguf(tmp_path / "bad.gguf")
    with pytest.raises(ModelError, match="not a GGUF file"):
        run(registry.add(bad))
    assert [s.name for s in registry.specs()] == [BUNDLED_NAME]
    good = write_tiny_gguf(tmp_path / "good.gguf")
    with pytest.raises(InvalidParams, match="already exists"):
        run(registry.add(good, BUNDLED_NAME))
    with pytest.raises(InvalidParams, match="not allowed"):
        run(registry.add(good, "bad name!"))


def test_remove_explains_other_sources(tmp_path: Path) -> None:
    models = tmp_path / "models"
    aged(write_tiny_gguf(models / "indir.gguf"))
    conf = write_tiny_gguf(tmp_path / "conf.gguf")
    registry = make(
        settings(model_dirs=[str(models)], models=[{"name": "conf", "path": str(conf)}])
    )
    run(registry.start())
    with pytest.raises(InvalidParams, match=r"delete its \[\[models\]\] entry"):
        run(registry.remove("conf"))
    with pytest.raises(InvalidParams, match=r"move .* out of it"):
        run(registry.remove("indir"))
    with pytest.raises(NotFound):
        run(registry.remove("nothing"))


def test_measured_scores_fill_gaps_and_emit_changed(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "m.gguf")
    config = settings(models=[{"name": "m", "path": str(path), "benchmarks": {"gsm8k": 70}}])
    registry = make(config)
    events: list[str] = []
    registry.subscribe(lambda event, spec: events.append(event))

    async def scenario() -> None:
        await registry.start()
        now = time.time()
        await registry.set_measured(
            "m",
            {
                "coding": MeasuredScore("coding", 0.75, 3, 4, now),
                "math": MeasuredScore("math", 0.25, 1, 4, now),
            },
        )

    run(scenario())
    spec = registry.get("m")
    assert spec.benchmarks["humaneval"] == 75.0
    assert spec.benchmarks["gsm8k"] == 70  # the config number wins over the measured one
    assert spec.benchmark_sources["gsm8k"] == "config"
    assert "coding 3/4" in spec.benchmark_sources["humaneval"]
    assert events == ["added", "changed"]


def test_a_failing_listener_does_not_break_the_registry(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "m.gguf")
    registry = make(settings(models=[{"name": "m", "path": str(path)}]))

    def boom(event: str, spec: ModelSpec) -> None:
        raise RuntimeError("listener bug")

    seen: list[str] = []
    registry.subscribe(boom)
    unsubscribe = registry.subscribe(lambda event, spec: seen.append(event))
    run(registry.start())
    assert seen == ["added"]
    unsubscribe()
    run(registry.set_measured("m", {"math": MeasuredScore("math", 1.0, 1, 1, time.time())}))
    assert seen == ["added"]


def test_benchmark_table_matches_longest_alias() -> None:
    table = BenchmarkTable.bundled()
    family = table.match(["Qwen2.5-Coder-7B-Instruct-Q4_K_M.gguf"])
    assert family is not None and family.id == "qwen2.5-coder-7b-instruct"
    assert table.match(["codellama-7b-instruct.Q5_K_M.gguf"]).id == "codellama-7b-instruct"  # type: ignore[union-attr]
    assert table.match(["gemma-3-12b-it-q4_0"]).id == "gemma-3-12b-it"  # type: ignore[union-attr]
    assert table.match(["gemma-3-1b-it"]).id == "gemma-3-1b-it"  # type: ignore[union-attr]
    assert table.match(["my-own-finetune"]) is None
    for family in table.families:
        assert family.source.startswith("https://"), family.id


def test_resolve_scores_precedence_and_neutral_prior() -> None:
    scores = resolve_scores(
        ["llama-3.1-8b-instruct"], configured={"humaneval": 10.0}, measured={"mt_bench": 5.0}
    )
    assert scores.values["humaneval"] == 10.0 and scores.sources["humaneval"] == "config"
    assert scores.values["gsm8k"] == 84.5 and "huggingface.co" in scores.sources["gsm8k"]
    assert scores.values["mt_bench"] == 5.0 and scores.sources["mt_bench"] == "measured"
    empty = resolve_scores(["unknown-model"])
    assert empty.neutral and "neutral prior" in (empty.note or "")


def test_normalise_name() -> None:
    assert (
        normalise_name("Meta-Llama-3.1-8B-Instruct.Q4_K_M.gguf")
        == "meta-llama-3.1-8b-instruct-q4-k-m"
    )
    assert normalise_name("Gemma 3 270m") == "gemma-3-270m"


def test_prompt_format_fallbacks(tmp_path: Path) -> None:
    from localforge.models.catalogue.spec_build import choose_prompt_format
    from localforge.models.gguf.info import read_gguf_info

    instruct = write_tiny_gguf(
        tmp_path / "gemma-3-1b-it.gguf", architecture="gemma3", name="Gemma 3 1b It"
    )
    fmt, why = choose_prompt_format(read_gguf_info(instruct), None)
    assert fmt == "gemma" and "instruction-tuned" in why
    base = write_tiny_gguf(tmp_path / "base.gguf", architecture="gemma3", name="Gemma 3 1b")
    fmt, why = choose_prompt_format(read_gguf_info(base), None)
    assert fmt == "plain" and "base model" in why
    templated = write_tiny_gguf(tmp_path / "t.gguf", chat_template=CHATML_TEMPLATE)
    assert choose_prompt_format(read_gguf_info(templated), None)[0] == "gguf-template"
    assert choose_prompt_format(read_gguf_info(templated), "llama3")[0] == "llama3"


def test_split_model_in_a_directory_is_one_model(tmp_path: Path) -> None:
    from tests.support.gguf_files import write_split_gguf

    models = tmp_path / "models"
    for part in write_split_gguf(models, "big", tensors=5, per_file=2):
        aged(part)
    registry = make(settings(model_dirs=[str(models)]))
    run(registry.start())
    assert [s.name for s in registry.specs()] == ["big"]
    assert registry.get("big").details["gguf"]["weights_bytes"] == 5 * 64 * 4
    assert registry.broken() == []
