"""What `lfctl top` draws, rendered into rich's recording console."""

from __future__ import annotations

from rich.console import Console

from lfctl.top_view import Decisions, render

SNAPSHOT = {
    "requests_per_s": 2.5,
    "in_flight": 1,
    "queue_depth": 3,
    "mode": "cpu",
    "budgets": [{"device": "cpu", "budget_bytes": 4 * 2**30, "used_bytes": 2**30}],
    "models": [
        {
            "name": "coder",
            "state": "loading",
            "residency": "loading",
            "progress": 0.4,
            "memory_bytes": 2**30,
            "device": "cpu",
            "health": {},
        },
        {
            "name": "writer",
            "state": "idle",
            "residency": "idle",
            "unload_in_s": 12.0,
            "memory_bytes": 2**29,
            "device": "cpu",
            "tokens_per_s": 41.5,
            "health": {},
        },
        {
            "name": "big",
            "state": "cooling",
            "residency": "unloaded",
            "memory_bytes": 2**32,
            "health": {"state": "cooling", "retry_in_s": 20, "last_error": "worker crashed"},
        },
    ],
}


def decision(rid: str, **fields: object) -> dict[str, object]:
    return {
        "type": "decision",
        "request_id": rid,
        "at": 0.0,
        "door": "lsp",
        "kind": "code",
        "task_type": "coding",
        "confidence": 0.93,
        "model": "coder",
        "reason": "highest final score",
        "route_ms": 2.1,
        **fields,
    }


def text(snapshot: dict[str, object], decisions: Decisions) -> str:
    console = Console(record=True, width=160, color_system=None)
    console.print(render(snapshot, decisions, now=0.0))
    return console.export_text()


def test_top_shows_rates_budget_model_states_and_decisions() -> None:
    decisions = Decisions()
    decisions.apply([decision("abcdef123456")])
    decisions.apply(
        [
            {
                "type": "result",
                "request_id": "abcdef123456",
                "latency_ms": 640.0,
                "ok": True,
                "seq": 2,
            }
        ]
    )
    decisions.apply(
        [
            {
                "type": "outcome",
                "request_id": "abcdef123456",
                "outcome_kind": "accepted",
                "outcome": 1.0,
                "seq": 3,
            }
        ]
    )
    shown = text(SNAPSHOT, decisions)
    assert "2.5 req/s" in shown and "queue 3" in shown and "cpu mode" in shown
    assert "1.0 GiB of 4.0 GiB" in shown
    assert "loading 40%" in shown and "idle, unloads in 12s" in shown
    assert "cooling 20s: worker crashed" in shown and "41.5" in shown
    assert "abcdef12" in shown and "lsp" in shown and "coding 0.93" in shown
    assert "640 ms" in shown and "accepted" in shown


def test_top_keeps_a_bounded_list_newest_first_and_says_what_it_skipped() -> None:
    decisions = Decisions(kept=3)
    decisions.apply([decision(f"r{i}") for i in range(10)], skipped=4)
    assert [d["request_id"] for d in decisions.latest(5)] == ["r9", "r8", "r7"]
    decisions.apply([{"type": "result", "request_id": "r0", "latency_ms": 1.0}])  # forgotten
    assert len(decisions.items) == 3
    assert "4 events skipped" in text(SNAPSHOT, decisions)
    assert "no decisions yet" in text(SNAPSHOT, Decisions())
