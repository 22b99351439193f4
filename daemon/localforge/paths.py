"""Where LocalForge keeps its files, following the XDG base directory spec.

Every file the daemon touches is under one of these five roots, so a test (or a
user) can move everything by setting ``XDG_*`` variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP = "localforge"


@dataclass(frozen=True)
class Paths:
    runtime_dir: Path  # socket and lock: $XDG_RUNTIME_DIR/localforge or /tmp/localforge-$UID
    config_dir: Path  # config.toml
    data_dir: Path  # SQLite database, vector shard, embedding model
    state_dir: Path  # logs
    cache_dir: Path  # what can be made again: the bundled GGUF, assembled from its package

    @property
    def socket(self) -> Path:
        return self.runtime_dir / "lfd.sock"

    @property
    def lock(self) -> Path:
        return self.runtime_dir / "lfd.lock"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def database(self) -> Path:
        return self.data_dir / "localforge.db"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "lfd.log"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Paths:
        env = os.environ if env is None else env
        home = Path(env.get("HOME") or Path.home())

        def xdg(name: str, fallback: Path) -> Path:
            value = env.get(name)
            # The spec says relative paths are invalid and must be ignored.
            return Path(value) if value and os.path.isabs(value) else fallback

        runtime = env.get("XDG_RUNTIME_DIR")
        runtime_dir = (
            Path(runtime) / APP
            if runtime and os.path.isabs(runtime)
            else Path(f"/tmp/{APP}-{os.getuid()}")
        )
        return cls(
            runtime_dir=runtime_dir,
            config_dir=xdg("XDG_CONFIG_HOME", home / ".config") / APP,
            data_dir=xdg("XDG_DATA_HOME", home / ".local" / "share") / APP,
            state_dir=xdg("XDG_STATE_HOME", home / ".local" / "state") / APP,
            cache_dir=xdg("XDG_CACHE_HOME", home / ".cache") / APP,
        )
