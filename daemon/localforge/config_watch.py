"""The daemon's watch on its config file: a saved file is applied, an invalid one reported.

The composition root owns this watch and calls its own ``reload``; services only
hear of the new settings through ``settings_changed``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from localforge.errors import ConfigError
from localforge.models.catalogue.watcher import Watcher

log = logging.getLogger(__name__)


class ConfigWatch:
    def __init__(self, config_file: Callable[[], Path | None], apply: Callable[[], object]) -> None:
        self._config_file = config_file
        self._apply = apply
        self._watcher: Watcher | None = None
        self.error: str | None = None  # why the last saved file was not applied

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._watcher = Watcher(loop, lambda: None, self._changed)
        self.rewatch()

    def rewatch(self) -> None:
        """Watch the config file now in force (a reload may have found it appear)."""
        if self._watcher is None:
            return
        try:
            self._watcher.watch((), self._config_file())
        except OSError as exc:
            log.warning("cannot watch the config file: %s", exc)

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    @property
    def watching(self) -> bool:
        return self._watcher is not None and self._watcher.watching["config"] is not None

    def _changed(self) -> None:
        try:
            self._apply()
        except ConfigError as exc:
            self.error = f"config change not applied: {exc.message}"
            log.warning("config file changed but was not applied: %s", exc.message)
            return
        self.error = None
