"""Qdrant Edge store: writes, filtered search, and optimisation in a child process with replay."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from localforge.memory.edge_store import EdgeStore, run_optimize_process
from localforge.memory.store import IndexCorrupt, MemoryPoint

DIM = 16


def points(
    n: int, rng: np.random.Generator, model: str = "m", outcome: float | None = 1.0
) -> list[MemoryPoint]:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return [MemoryPoint(str(uuid.uuid4()), v, model, "coding", outcome, 1.0, 10.0) for v in vectors]


@pytest.fixture
def store(tmp_path: Path) -> EdgeStore:
    s = EdgeStore(tmp_path / "edge", DIM)
    s.open()
    yield s
    s.close()


def test_search_filters_by_outcome_and_model(store: EdgeStore) -> None:
    rng = np.random.default_rng(1)
    rated, pending, other = points(5, rng), points(5, rng, outcome=None), points(5, rng, model="x")
    store.upsert(rated + pending + other)
    assert store.count() == 15
    found = store.search(rated[0].vector, 50, ["m"])
    assert {n.id for n in found} == {p.id for p in rated}
    assert found[0].id == rated[0].id and found[0].similarity == pytest.approx(1.0, abs=1e-5)
    store.set_outcome(pending[0].id, 0.0)
    assert pending[0].id in {n.id for n in store.search(pending[0].vector, 50, ["m"])}
    store.delete([rated[0].id])
    assert store.count() == 14
    assert sorted(pid for batch in store.scan(batch=4) for pid, _ in batch) == sorted(
        p.id for p in rated[1:] + pending + other
    )


def test_offline_optimisation_replays_writes_made_meanwhile(store: EdgeStore) -> None:
    rng = np.random.default_rng(2)
    first = points(300, rng)
    store.upsert(first)
    copy = store.begin_offline_optimize()
    late = points(20, rng)
    store.upsert(late)
    store.set_outcome(first[0].id, 0.0)
    store.delete([first[1].id])
    run_optimize_process(copy)
    assert store.finish_offline_optimize() == 3
    assert store.count() == 300 + 20 - 1
    outcomes = dict(pid_outcome for batch in store.scan() for pid_outcome in batch)
    assert outcomes[first[0].id] == 0.0 and first[1].id not in outcomes and late[-1].id in outcomes
    assert store.search(late[-1].vector, 1, ["m"])[0].id == late[-1].id
    assert not copy.exists()


def test_corrupt_config_is_reported(tmp_path: Path) -> None:
    s = EdgeStore(tmp_path / "edge", DIM)
    s.open()
    s.close()
    (tmp_path / "edge" / "edge_config.json").write_text("{")
    with pytest.raises(IndexCorrupt, match="cannot open the vector index"):
        EdgeStore(tmp_path / "edge", DIM).open()


def test_searches_from_another_thread_survive_writes_and_a_reset(store: EdgeStore) -> None:
    """A decision searches on its embedding thread while the store thread writes or swaps."""
    import threading

    from localforge.errors import Unavailable

    rng = np.random.default_rng(7)
    batch = points(200, rng)
    store.upsert(batch)
    assert store.concurrent_search
    results: list[int] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def search() -> None:
        while not done.is_set():
            try:
                results.append(len(store.search(batch[0].vector, 10, ["m"])))
            except Unavailable:  # never seen: reopening holds the lock searches take
                failures.append(Unavailable("closed"))
            except BaseException as exc:
                failures.append(exc)

    reader = threading.Thread(target=search)
    reader.start()
    try:
        for _ in range(5):
            store.upsert(points(50, rng))
        store.reset()
        store.upsert(batch)
    finally:
        done.set()
        reader.join(timeout=30)
    assert not failures and results
    assert store.search(batch[0].vector, 10, ["m"])[0].id == batch[0].id


def test_opening_reads_every_payload_once_so_first_searches_are_warm(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    first = EdgeStore(tmp_path / "edge", DIM)
    first.open()
    batch = points(5000, rng)
    first.upsert(batch)
    first.close()
    again = EdgeStore(tmp_path / "edge", DIM)
    again.open()  # warms on the way
    try:
        assert again.warm() == 5000
        assert again.search(batch[9].vector, 5, ["m"])[0].id == batch[9].id
    finally:
        again.close()
    assert again.warm() == 0  # closed: nothing to read, no error
