"""Task-type counts near the query: where a model's successes and failures lie."""

from __future__ import annotations

import math

import numpy as np
import pytest

from localforge.memory.task_evidence import TaskEvidence

A, B = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])


def split_model() -> TaskEvidence:
    """``m`` succeeds on the queries at A and fails on those at B, six of each."""
    counts = TaskEvidence(decay=1.0)
    for i in range(6):
        counts.add("coding", "m", 1.0, at=2.0 * i, vector=A)
        counts.add("coding", "m", 0.0, at=2.0 * i + 1, vector=B)
    return counts


def test_the_side_of_the_task_type_the_query_is_not_on_weighs_less() -> None:
    """Centroids (6·A + 3·c)/9 and (6·B + 3·c)/9 with c = (A + B)/2: a gap of 2/3 at A.

    The queries' similarities to A are six 1s and six 0s (spread 0.5), so chance alone gives a
    gap of 0.5·√(2·6/81); two of these are not counted.
    """
    counts = split_model()
    kept = math.exp(-5.0 * (2.0 / 3.0 - 2.0 * 0.5 * math.sqrt(12.0 / 81.0)))
    assert counts.get("coding", "m", now=12.0) == pytest.approx((6.0, 6.0))
    assert counts.get("coding", "m", 12.0, A, locality=0.0) == pytest.approx((6.0, 6.0))
    assert counts.get("coding", "m", 12.0, A, locality=5.0) == pytest.approx((6.0, 6.0 * kept))
    assert counts.get("coding", "m", 12.0, 3.0 * B, locality=5.0) == pytest.approx(
        (6.0 * kept, 6.0)
    )
    between = counts.get("coding", "m", 12.0, A + B, locality=5.0)
    assert between == pytest.approx((6.0, 6.0))  # as near to both: the whole task type


def test_outcomes_that_do_not_depend_on_the_query_keep_their_counts() -> None:
    counts = TaskEvidence(decay=1.0)
    for i, where in enumerate([A, B, A, B]):
        counts.add("coding", "m", 1.0, at=2.0 * i, vector=where)
        counts.add("coding", "m", 0.0, at=2.0 * i + 1, vector=where)
    assert counts.get("coding", "m", 8.0, A, locality=50.0) == pytest.approx((4.0, 4.0))


def test_failures_far_from_the_query_weigh_less_for_a_model_that_never_succeeded() -> None:
    """Its successes sit where the task type's queries lie: c = (A + B)/2, from both models.

    Eight failures at B: at A, 0.5 against (8·0 + 3·0.5)/11 for them, less twice the gap chance
    gives (spread 0.5 over eight failures, √(8/121)); the failures keep exp(−τ·that).
    """
    counts = TaskEvidence(decay=1.0)
    for i in range(8):
        counts.add("coding", "other", 1.0, at=2.0 * i, vector=A)
        counts.add("coding", "m", 0.0, at=2.0 * i + 1, vector=B)
    gap = 0.5 - (8.0 * 0.0 + 3.0 * 0.5) / 11.0 - 2.0 * 0.5 * math.sqrt(8.0 / 121.0)
    assert counts.get("coding", "m", 16.0, A, locality=8.0) == pytest.approx(
        (0.0, 8.0 * math.exp(-8.0 * gap))
    )
    assert counts.get("coding", "m", 16.0, B, locality=8.0) == pytest.approx((0.0, 8.0))


def test_a_changed_rating_moves_its_query_to_the_other_side() -> None:
    counts, direct = split_model(), TaskEvidence(decay=1.0)
    counts.add("coding", "m", 0.0, at=0.0, previous=1.0, vector=A)  # the first was a failure
    for i in range(6):
        direct.add("coding", "m", 0.0 if i == 0 else 1.0, at=2.0 * i, vector=A)
        direct.add("coding", "m", 0.0, at=2.0 * i + 1, vector=B)
    for query in (A, B):
        assert counts.get("coding", "m", 12.0, query, 5.0) == pytest.approx(
            direct.get("coding", "m", 12.0, query, 5.0)
        )


def test_a_reload_places_the_outcomes_again() -> None:
    live = split_model()
    rows = [("coding", "m", 1.0, 2.0 * i, A.astype(np.float32)) for i in range(6)]
    rows += [("coding", "m", 0.0, 2.0 * i + 1, B.astype(np.float32)) for i in range(6)]
    again = TaskEvidence(decay=1.0)
    again.load(rows)
    assert again.get("coding", "m", 12.0, A, 5.0) == pytest.approx(
        live.get("coding", "m", 12.0, A, 5.0)
    )


def test_dropped_older_outcomes_leave_only_where_the_newest_lie() -> None:
    """Twenty successes at A, then failures at B: after the change only B's failures stay."""
    counts = TaskEvidence(decay=1.0, change_window=4, change_level=0.01)
    for i in range(20):
        counts.add("coding", "m", 1.0, at=float(i), vector=A)
    for i in range(3):
        counts.add("coding", "m", 0.0, at=20.0 + i, vector=B)
    assert counts.get("coding", "m", now=30.0) == pytest.approx((1.0, 3.0))
    successes, failures = counts.get("coding", "m", 30.0, B, locality=5.0)
    assert failures == pytest.approx(3.0) and successes < 1.0


def test_queries_from_another_embedding_model_fall_back_to_the_whole_task_type() -> None:
    counts = split_model()
    other = np.array([1.0, 0.0, 0.0, 0.0])
    assert counts.get("coding", "m", 12.0, other, locality=5.0) == pytest.approx((6.0, 6.0))
    counts.add("coding", "m", 1.0, at=13.0, vector=other)  # the new model's vectors start over
    for query in (other, A, None):  # one outcome placed: as near to both sides
        assert counts.get("coding", "m", 13.0, query, locality=5.0) == pytest.approx((7.0, 6.0))


def test_counts_that_are_not_placed_ignore_where_outcomes_lie() -> None:
    counts = TaskEvidence(decay=1.0, placed=False)
    for i in range(6):
        counts.add("coding", "m", 1.0, at=2.0 * i, vector=A)
        counts.add("coding", "m", 0.0, at=2.0 * i + 1, vector=B)
    assert counts.get("coding", "m", 12.0, A, locality=5.0) == pytest.approx((6.0, 6.0))
