"""The model manager as the router's CandidateSource: measured load time and latency (EWMA)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from localforge.models.catalogue.spec import ModelSpec
from localforge.models.runtime.manager import SPAWN_MS, ModelManager
from localforge.models.runtime.stats import ewma
from localforge.settings import ModelEntry, Settings, StorageSettings
from localforge.storage.database import Database


def spec(name: str, *, url: str | None = None, memory: int | None = 300_000_000) -> ModelSpec:
    return ModelSpec(
        name=name,
        path=None if url else Path(f"/models/{name}.gguf"),
        url=url,
        n_ctx=512,
        n_gpu_layers=0,
        family=None,
        prompt_format="plain",
        chat_template=None,
        fim=None,
        benchmarks={"humaneval": 40.0},
        benchmark_sources={},
        pinned=False,
        ttl_s=None,
        tags=(),
        memory_bytes=memory,
        source="config",
    )


class Registry:
    def __init__(self, specs: list[ModelSpec]) -> None:
        self._specs = specs

    def specs(self) -> list[ModelSpec]:
        return self._specs


def test_candidates_carry_measured_load_time_and_latency(tmp_path: Path) -> None:
    settings = Settings(
        models=[ModelEntry(name="configured", path=Path("/m.gguf"), load_time_ms=1500.0)]
    )
    database = Database(tmp_path / "db.sqlite", StorageSettings())
    database.open()
    try:
        specs = [spec("measured"), spec("configured"), spec("fresh"), spec("far", url="http://x")]
        manager = ModelManager(lambda: settings, Registry(specs), database, tmp_path)

        async def measure() -> None:
            await manager.stats.load()
            await manager.stats.record_load("measured", 800.0)
            await manager.stats.record_load("measured", 400.0)
            await manager.stats.record_request("measured", ok=True, latency_ms=250.0)

        asyncio.run(measure())
        by_name = {c.name: c for c in manager.candidates()}
    finally:
        database.close()

    measured = by_name["measured"]
    assert measured.expected_load_ms == ewma(800.0, 400.0) and not measured.resident
    assert measured.avg_latency_ms == 250.0
    assert measured.benchmarks == {"humaneval": 40.0}
    assert by_name["configured"].expected_load_ms == 1500.0  # from config until measured
    assert by_name["fresh"].expected_load_ms > SPAWN_MS  # a size-based first guess
    assert by_name["far"].resident and by_name["far"].expected_load_ms == 0.0


def test_stats_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    for expected_loads in (1, 2):
        database = Database(path, StorageSettings())
        database.open()
        try:
            manager = ModelManager(Settings, Registry([]), database, tmp_path)

            assert asyncio.run(_load_once(manager)) == expected_loads
        finally:
            database.close()


async def _load_once(manager: ModelManager) -> int:
    await manager.stats.load()
    return (await manager.stats.record_load("m", 100.0)).loads
