"""Test-only fault injection for model workers: crash the way a broken llama.cpp build does.

A worker reads ``LOCALFORGE_WORKER_FAULT`` once at start; nothing else in the
daemon reads it. Its value is one rule, ``WHERE[@MODE][=MODEL]``:

- ``WHERE``: ``load`` (while loading), ``warmup`` (at the few-token evaluation that
  ends every load, where a kernel that does not suit the CPU first runs), ``decode`` (at
  the first decode of the worker's first generation, before any token) or ``token:N``
  (at the N-th token this worker generates, counted across its generations);
- ``MODE``: ``normal`` (the default: only when not in safe mode, like the AMX
  kernel crash), ``safe`` (only in safe mode) or ``any``;
- ``MODEL``: only for the model registered under this name (default: every model).

The crash is a real ``SIGSEGV`` sent to the worker itself, so the daemon sees
exactly what a native crash looks like. ``decode@any=coder`` makes the model
``coder`` crash in both modes; ``token:3`` crashes mid-generation.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

ENV = "LOCALFORGE_WORKER_FAULT"
MODES = ("normal", "safe", "any")


@dataclass(frozen=True)
class Fault:
    where: str  # load | warmup | decode | token
    mode: str = "normal"
    model: str | None = None
    token: int = 0

    @classmethod
    def parse(cls, text: str) -> Fault:
        rule, _, model = text.strip().partition("=")
        where, _, mode = rule.partition("@")
        mode = mode or "normal"
        token = 0
        if where.startswith("token:"):
            where, token = "token", int(where.removeprefix("token:"))
        if where not in ("load", "warmup", "decode", "token") or mode not in MODES or token < 0:
            raise ValueError(
                f"{ENV}={text!r}: use load|warmup|decode|token:N, then @normal|@safe|@any, "
                "then =MODEL"
            )
        return cls(where, mode, model or None, token)

    def applies(self, where: str, *, safe: bool, model: str | None) -> bool:
        if where != self.where or (self.model is not None and self.model != model):
            return False
        return self.mode == "any" or (self.mode == "safe") == safe


def from_env() -> Fault | None:
    text = os.environ.get(ENV, "").strip()
    return Fault.parse(text) if text else None


def crash() -> None:
    """Die by SIGSEGV with its default action (Python installs no handler for it)."""
    os.kill(os.getpid(), signal.SIGSEGV)
