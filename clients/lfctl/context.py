"""What every lfctl command gets: parsed args, paths, and a lazily connected client."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from lfctl.autostart import connect
from lfctl.client import Client
from localforge.paths import Paths


@dataclass
class Context:
    args: argparse.Namespace
    paths: Paths = field(default_factory=Paths.from_env)
    _client: Client | None = None

    def client(self) -> Client:
        if self._client is None:
            self._client = connect(
                self.paths, start=not self.args.no_start, socket_path=self.args.socket
            )
        return self._client

    def call(self, method: str, params: Any = None, on_stream: Any = None) -> Any:
        return self.client().call(method, params, on_stream)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    def emit_json(self, value: Any) -> None:
        json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
