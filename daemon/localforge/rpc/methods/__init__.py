"""Method groups. Each module exposes ``methods() -> list[Method]``; add new groups here."""

from __future__ import annotations

from typing import Any

from localforge.rpc.dispatch import Method
from localforge.rpc.methods import daemon


def all_methods() -> list[Method[Any]]:
    return [*daemon.methods()]
