"""LocalForge: a per-user daemon that routes queries to the best local model."""

from __future__ import annotations

__version__ = "0.1.0"
