"""Method groups. Each module exposes ``methods() -> list[Method]``; add new groups here."""

from __future__ import annotations

from typing import Any

from localforge.rpc.dispatch import Method
from localforge.rpc.methods import daemon, dashboard, feedback, inference, memory, models, route


def all_methods() -> list[Method[Any]]:
    return [
        *daemon.methods(),
        *inference.methods(),
        *models.methods(),
        *route.methods(),
        *feedback.methods(),
        *memory.methods(),
        *dashboard.methods(),
    ]
