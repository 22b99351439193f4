"""`memory.*` and `lfctl memory …` on a real daemon: stats, forget, export/import, rebuild,
and the reliability promises: kill -9, a corrupt or deleted index, a second daemon."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from lfctl.client import Client, RpcError
from tests.e2e.routing_support import configure, lf_json, route, wait_memory_ready
from tests.support.daemon import DaemonProcess, Home, lfctl, run_daemon

pytestmark = pytest.mark.e2e


def interaction_ids(home: Home) -> set[str]:
    with sqlite3.connect(home.paths.database) as conn:
        return {row[0] for row in conn.execute("SELECT request_id FROM interactions")}


def test_stats_forget_export_import(home: Home, tmp_path: Path) -> None:
    configure(home)
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        first = route(daemon, "write a python function that reverses a string")
        route(daemon, "explain photosynthesis")
        daemon.call("feedback.record", {"request_id": first["request_id"], "kind": "thumbs_up"})
        stats = lf_json(home, "memory", "stats")
        assert stats["interactions"] == 2 and stats["index"]["in_sync"]
        assert stats["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
        assert {(g["model"], g["task_type"]) for g in stats["groups"]} == {
            ("coder", "coding"),
            ("talker", "reasoning"),
        }
        people = lfctl(home, "--no-start", "memory", "stats")
        assert "interactions  2" in people.stdout and "qdrant-edge" in people.stdout

        out = tmp_path / "memory.jsonl"
        exported = lfctl(home, "--no-start", "memory", "export", str(out))
        assert exported.returncode == 0 and "exported 2 interactions" in exported.stdout
        assert len(out.read_text().splitlines()) == 2

        refused = lfctl(home, "--no-start", "memory", "forget", "--all", input="n\n")
        assert refused.returncode == 1 and "nothing forgotten" in refused.stdout
        assert lf_json(home, "memory", "stats")["interactions"] == 2
        by_model = lfctl(home, "--no-start", "memory", "forget", "--model", "talker", input="y\n")
        assert by_model.returncode == 0 and "forgot 1 interactions" in by_model.stdout
        old = lfctl(home, "--no-start", "memory", "forget", "--older-than", "90d", "--yes")
        assert "forgot 0 interactions" in old.stdout
        everything = lfctl(home, "--no-start", "memory", "forget", "--all", "--yes")
        assert "forgot 1 interactions" in everything.stdout
        stats = lf_json(home, "memory", "stats")
        assert (
            stats["interactions"] == 0 and stats["index"]["points"] == 0 and stats["feedback"] == {}
        )

        imported = lfctl(home, "--no-start", "memory", "import", str(out))
        assert "imported 2 of 2 interactions (0 already known)" in imported.stdout, imported.stderr
        stats = lf_json(home, "memory", "stats")
        assert stats["interactions"] == 2 and stats["index"]["points"] == 2
        assert stats["feedback"] == {"coder": {"positive": 1.0, "total": 1}}


def test_rebuild_streams_progress(home: Home) -> None:
    configure(home)
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        for i in range(3):
            route(daemon, f"question number {i}")
        seen: list[dict[str, int]] = []
        with daemon.client() as client:
            result = client.call("memory.rebuild", None, seen.append)
        assert result["points"] == 3
        assert seen[-1] == {"phase": "indexing", "done": 3, "total": 3}
        people = lfctl(home, "--no-start", "memory", "rebuild")
        assert people.returncode == 0 and "rebuilt the index: 3 points" in people.stdout
        assert "3/3" in people.stderr


def test_kill_9_keeps_every_acknowledged_interaction(home: Home) -> None:
    configure(home)
    daemon = DaemonProcess(home).start()
    wait_memory_ready(daemon)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(worker: int) -> None:
        try:
            with daemon.client() as client:
                n = 0
                while not stop.is_set():
                    trace = client.call(
                        "route.explain", {"text": f"query {worker}-{n}", "record": True}
                    )
                    with lock:
                        acknowledged.append(trace["request_id"])
                    n += 1
        except (OSError, RpcError, ConnectionError, Exception):
            return  # the daemon died mid-request: that one was never acknowledged

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    daemon.kill9()
    stop.set()
    for thread in threads:
        thread.join(10)
    assert len(acknowledged) >= 40

    stored = interaction_ids(home)
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged interactions lost"

    with run_daemon(home) as again:
        wait_memory_ready(again)
        stats = again.call("memory.stats")
        assert stats["interactions"] == len(stored)
        assert stats["index"]["points"] == len(stored) and stats["index"]["in_sync"]
        assert set(acknowledged) <= interaction_ids(home)


def test_deleted_or_corrupt_index_is_rebuilt_at_start(home: Home) -> None:
    configure(home)
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        for i in range(3):
            route(daemon, f"question {i}")
    edge = home.paths.data_dir / "memory" / "edge"
    shutil.rmtree(edge)
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        assert daemon.call("memory.stats")["index"]["points"] == 3
    assert "rebuilding the vector index from SQLite: index directory" in daemon.output()

    (edge / "edge_config.json").write_text("garbage")
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        assert daemon.call("memory.stats")["index"]["points"] == 3
    assert "index was unreadable" in daemon.output()


def test_a_second_daemon_on_the_same_data_dir_is_refused(home: Home) -> None:
    configure(home)
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        other = Home(home.root, {"XDG_RUNTIME_DIR": str(home.root / "run2")})
        (home.root / "run2").mkdir(mode=0o700)
        second = DaemonProcess(other)
        with pytest.raises(RuntimeError, match="already running"):
            second.start(timeout=30)
        assert daemon.call("memory.stats")["index"]["in_sync"]


def test_memory_url_uses_qdrant_client(home: Home, tmp_path: Path) -> None:
    configure(home, f'\n[memory]\nurl = "file://{tmp_path / "qdrant"}"\n')
    with run_daemon(home) as daemon:
        status = wait_memory_ready(daemon)
        assert status["backend"] == "qdrant"
        rid = route(daemon, "write a python function that reverses a string")["request_id"]
        daemon.call("feedback.record", {"request_id": rid, "kind": "thumbs_up"})
        trace = route(daemon, "write a python function that reverses a list")
        coder = next(c for c in trace["candidates"] if c["model"] == "coder")
        assert coder["memory"]["evidence"] and coder["memory"]["nearest"][0]["id"] == rid
        assert json.loads(json.dumps(daemon.call("memory.stats")))["index"]["points"] == 2


_ = Client  # the client type used through DaemonProcess.client()
