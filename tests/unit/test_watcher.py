"""The live registry: real files dropped into and removed from a watched directory
(watchdog, real inotify events)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from localforge.models.catalogue.registry import ModelRegistry
from localforge.models.catalogue.spec import ModelSpec
from localforge.models.catalogue.watcher import file_is_settled, is_candidate_file
from localforge.settings import Settings
from tests.support.gguf_files import write_tiny_gguf

SETTLE_S = 0.4


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


def test_candidate_files() -> None:
    assert is_candidate_file(Path("a/Model-Q4_K_M.GGUF"))
    for name in ("m.gguf.part", "m.gguf.tmp", "m.gguf.crdownload", ".m.gguf", "m.bin", "readme"):
        assert not is_candidate_file(Path(name)), name


def test_settled_means_unchanged_for_the_settle_time(tmp_path: Path) -> None:
    path = tmp_path / "f.gguf"
    path.write_bytes(b"x")
    settled, wait = file_is_settled(path, 5.0)
    assert not settled and 0 < wait <= 5.0
    old = path.stat().st_mtime - 10
    os.utime(path, (old, old))
    assert file_is_settled(path, 5.0) == (True, 0.0)
    assert file_is_settled(tmp_path / "missing", 5.0)[0] is False


def test_dropped_file_is_registered_and_removed_file_unregistered(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    source = write_tiny_gguf(tmp_path / "src" / "tiny.gguf")
    config = Settings.model_validate({"model_dirs": [str(models)]})
    registry = ModelRegistry(lambda: config, bundled=None, settle_s=SETTLE_S)
    events: list[tuple[str, str]] = []
    registry.subscribe(lambda event, spec: events.append((event, spec.name)))

    async def scenario() -> None:
        await registry.start()
        try:
            assert registry.specs() == []
            # a downloader writes name.part and renames it when done
            partial = models / "dropped.gguf.part"
            shutil.copyfile(source, partial)
            await asyncio.sleep(SETTLE_S * 2)
            assert registry.specs() == [], "a .part file must not be registered"
            partial.rename(models / "dropped.gguf")
            assert await wait_for(lambda: [s.name for s in registry.specs()] == ["dropped"])
            assert registry.get("dropped").source == "dir"

            (models / "dropped.gguf").unlink()
            assert await wait_for(lambda: registry.specs() == [])
        finally:
            await registry.stop()

    asyncio.run(scenario())
    assert events == [("added", "dropped"), ("removed", "dropped")]


def test_growing_file_waits_until_writing_stops(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    data = write_tiny_gguf(tmp_path / "src" / "tiny.gguf").read_bytes()
    config = Settings.model_validate({"model_dirs": [str(models)]})
    registry = ModelRegistry(lambda: config, bundled=None, settle_s=SETTLE_S)
    seen: list[tuple[str, ModelSpec]] = []
    registry.subscribe(lambda event, spec: seen.append((event, spec)))

    async def scenario() -> None:
        await registry.start()
        try:
            target = models / "slow.gguf"
            chunk = len(data) // 8 + 1
            with target.open("wb") as handle:
                for start in range(0, len(data), chunk):
                    handle.write(data[start : start + chunk])
                    handle.flush()
                    await asyncio.sleep(SETTLE_S / 3)
                    assert registry.specs() == [], "registered while still being written"
                    assert registry.broken() == [], "a file being written is not broken"
            assert await wait_for(lambda: [s.name for s in registry.specs()] == ["slow"])
        finally:
            await registry.stop()

    asyncio.run(scenario())
    assert [event for event, _ in seen] == ["added"]
    assert registry.broken() == []
