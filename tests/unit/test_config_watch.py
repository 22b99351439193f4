"""The daemon's config watch: a saved file is applied, an invalid one is reported and refused
(watchdog, real inotify events), and the registry hears of applied settings only."""

from __future__ import annotations

import asyncio
from pathlib import Path

from localforge.config_watch import ConfigWatch
from localforge.models.catalogue.registry import ModelRegistry
from localforge.settings import Settings, check_config_file
from tests.support.gguf_files import write_tiny_gguf
from tests.unit.test_watcher import SETTLE_S, wait_for


def test_config_file_reload_keeps_the_old_settings_when_invalid(tmp_path: Path) -> None:
    model = write_tiny_gguf(tmp_path / "m.gguf")
    config_file = tmp_path / "cfg" / "config.toml"
    config_file.parent.mkdir()
    config_file.write_text("")
    current = {"settings": Settings()}
    registry = ModelRegistry(
        lambda: current["settings"],
        config_file=lambda: config_file,
        bundled=None,
        settle_s=SETTLE_S,
    )

    def reload() -> None:
        current["settings"] = check_config_file(config_file)  # raises ConfigError when invalid
        registry.settings_changed(["models"])

    watch = ConfigWatch(lambda: config_file, reload)

    def save(text: str) -> None:
        # editors save by writing a temporary file and renaming it over the old one
        tmp = config_file.with_suffix(".toml.swp")
        tmp.write_text(text)
        tmp.replace(config_file)

    async def scenario() -> None:
        await registry.start()
        watch.start()
        try:
            assert watch.watching and registry.specs() == []
            save(f'[[models]]\nname = "alpha"\npath = "{model}"\n')
            assert await wait_for(lambda: [s.name for s in registry.specs()] == ["alpha"])

            save("[[models]\nname = broken toml")
            assert await wait_for(lambda: "not applied" in (watch.error or ""))
            assert [s.name for s in registry.specs()] == ["alpha"]
            assert "not valid TOML" in (watch.error or "")

            save(f'[[models]]\nname = "beta"\npath = "{model}"\nn_ctx = 512\n')
            assert await wait_for(lambda: [s.name for s in registry.specs()] == ["beta"])
            assert watch.error is None
            assert registry.get("beta").n_ctx == 512
        finally:
            watch.stop()
            await registry.stop()

    asyncio.run(scenario())
