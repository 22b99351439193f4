"""lfctl: the LocalForge command line and a small client library for the daemon's socket."""

from __future__ import annotations

from lfctl.client import Client, RpcError

__all__ = ["Client", "RpcError"]
