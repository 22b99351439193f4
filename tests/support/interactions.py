"""Synthetic rated interactions for benchmarks that fill a database without a daemon."""

from __future__ import annotations

import uuid

import numpy as np

from localforge.memory.interactions import Interaction


def rated_chat(
    *,
    created_at: float,
    task_type: str,
    model: str,
    vector: np.ndarray,
    embedding_model: str,
    success: bool,
) -> Interaction:
    """A chat request with no stored text, rated thumbs up with outcome 1 or 0."""
    return Interaction(
        request_id=str(uuid.uuid4()),
        created_at=created_at,
        kind="chat",
        query_text=None,
        query_hash="0" * 64,
        task_type=task_type,
        confidence=0.9,
        model=model,
        embedding=vector,
        embedding_model=embedding_model,
        outcome=float(success),
        outcome_kind="thumbs_up",
    )
