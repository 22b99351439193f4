"""Vector index on a Qdrant server or cluster through ``qdrant-client`` (``memory.url``).

The same class runs against qdrant-client's local mode (``path=`` or
``:memory:``), which is how the tests exercise this code path without a server.
Writes use ``wait=True`` so an acknowledged write is applied.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from localforge.errors import Unavailable
from localforge.memory.store import (
    IndexCorrupt,
    IndexLocked,
    MemoryPoint,
    Neighbour,
    check_vector,
    disk_usage,
    scroll_outcomes,
)

log = logging.getLogger(__name__)

BATCH = 512


def _models() -> Any:
    try:
        from qdrant_client import models
    except ImportError as exc:
        raise Unavailable(
            "qdrant-client is not installed; run 'make setup' (it installs the 'full' extra)"
        ) from exc
    return models


class QdrantClientStore:
    backend = "qdrant"
    concurrent_search = False  # local mode is plain Python: searches stay on the store thread

    def __init__(
        self,
        collection: str,
        dim: int,
        *,
        url: str | None = None,
        api_key: str | None = None,
        path: Path | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        if (url is None) == (path is None):
            raise ValueError("QdrantClientStore needs exactly one of url or path")
        self.collection = collection
        self.dim = dim
        self.url = url
        self.api_key = api_key
        self.path = path
        self.timeout_s = timeout_s
        self.location = (
            f"{url}/collections/{collection}" if url else f"{path} (qdrant-client local)"
        )
        self._client: Any = None

    # --- lifecycle --------------------------------------------------------

    def open(self) -> None:
        from qdrant_client import QdrantClient

        try:
            if self.url is not None:
                self._client = QdrantClient(
                    url=self.url, api_key=self.api_key, timeout=int(self.timeout_s)
                )
            else:
                assert self.path is not None
                self._client = QdrantClient(path=str(self.path))
        except RuntimeError as exc:
            if "already accessed" in str(exc):
                raise IndexLocked(
                    f"the vector index {self.path} is locked by another process; stop it and retry"
                ) from exc
            raise IndexCorrupt(f"cannot open the vector index {self.location}: {exc}") from exc
        except Exception as exc:
            raise IndexCorrupt(f"cannot open the vector index {self.location}: {exc}") from exc
        self._ensure_collection()

    def _ensure_collection(self) -> None:
        models = _models()
        try:
            exists = self.client.collection_exists(self.collection)
        except Exception as exc:
            raise Unavailable(
                f"cannot reach Qdrant at {self.url}: {exc}; start the server, fix memory.url, "
                "or unset memory.url to use the embedded index"
            ) from exc
        if exists:
            info = self.client.get_collection(self.collection)
            vectors = info.config.params.vectors
            size = getattr(vectors, "size", None)
            if size != self.dim:
                raise IndexCorrupt(
                    f"collection {self.collection!r} holds {size}-dim vectors, "
                    f"the embedder makes {self.dim}"
                )
            return
        self.client.create_collection(
            self.collection,
            vectors_config=models.VectorParams(size=self.dim, distance=models.Distance.COSINE),
        )
        if self.url is not None:  # local mode has no payload indexes
            self.client.create_payload_index(
                self.collection, "model", models.PayloadSchemaType.KEYWORD
            )
            self.client.create_payload_index(
                self.collection, "outcome", models.PayloadSchemaType.FLOAT
            )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def client(self) -> Any:
        if self._client is None:
            raise Unavailable(f"the vector index {self.location} is not open")
        return self._client

    # --- writes -----------------------------------------------------------

    def upsert(self, points: Sequence[MemoryPoint]) -> None:
        models = _models()
        for start in range(0, len(points), BATCH):
            chunk = [
                models.PointStruct(
                    id=p.id, vector=check_vector(p.vector, self.dim), payload=p.payload()
                )
                for p in points[start : start + BATCH]
            ]
            self.client.upsert(self.collection, points=chunk, wait=True)

    def set_outcome(self, point_id: str, outcome: float | None) -> None:
        self.client.set_payload(
            self.collection, payload={"outcome": outcome}, points=[point_id], wait=True
        )

    def delete(self, ids: Sequence[str]) -> None:
        models = _models()
        for start in range(0, len(ids), BATCH):
            selector = models.PointIdsList(points=list(ids[start : start + BATCH]))
            self.client.delete(self.collection, points_selector=selector, wait=True)

    def reset(self) -> None:
        if self._client is None and self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.open()
            return
        self.client.delete_collection(self.collection)
        self._ensure_collection()

    # --- reads ------------------------------------------------------------

    def search(self, vector: np.ndarray, limit: int, models: Sequence[str]) -> list[Neighbour]:
        m = _models()
        must: list[Any] = [m.FieldCondition(key="outcome", range=m.Range(gte=0.0))]
        if models:
            must.append(m.FieldCondition(key="model", match=m.MatchAny(any=list(models))))
        result = self.client.query_points(
            self.collection,
            query=check_vector(vector, self.dim),
            limit=limit,
            query_filter=m.Filter(must=must),
            with_payload=True,
        )
        return [Neighbour.from_payload(p.id, p.score, p.payload or {}) for p in result.points]

    def count(self) -> int:
        return int(self.client.count(self.collection, exact=True).count)

    def scan(self, batch: int = 2048) -> Iterator[list[tuple[str, float | None]]]:
        yield from scroll_outcomes(
            lambda offset: self.client.scroll(
                self.collection,
                limit=batch,
                offset=offset,
                with_payload=["outcome"],
                with_vectors=False,
            )
        )

    def optimize(self) -> bool:
        return False  # the server optimises on its own

    def disk_bytes(self) -> int:
        return disk_usage(self.path)
