"""The vector store the settings name: Qdrant Edge in the data dir, or qdrant-client."""

from __future__ import annotations

from pathlib import Path

from localforge.memory.edge_store import EdgeStore
from localforge.memory.qdrant_store import QdrantClientStore
from localforge.memory.store import VectorStore
from localforge.settings import MemorySettings


def make_store(settings: MemorySettings, data_dir: Path, dim: int) -> VectorStore:
    """Qdrant Edge in the data dir, or qdrant-client for ``memory.url``.

    ``memory.url = "file:///DIR"`` selects qdrant-client's local mode (no server).
    """
    if settings.url is None:
        return EdgeStore(data_dir / "memory" / "edge", dim)
    if settings.url.startswith("file://"):
        return QdrantClientStore(
            settings.collection, dim, path=Path(settings.url[len("file://") :])
        )
    return QdrantClientStore(settings.collection, dim, url=settings.url, api_key=settings.api_key)
