"""`lfctl memory forget --older-than AGE` parsing and the explain rendering."""

from __future__ import annotations

import argparse

import pytest

from lfctl.commands.memory import parse_age
from lfctl.commands.route import render_explain


def test_ages() -> None:
    assert parse_age("90d") == 90
    assert parse_age("12h") == pytest.approx(0.5)
    assert parse_age("2w") == 14
    assert parse_age("1y") == 365
    assert parse_age("30m") == pytest.approx(30 / 1440)
    for bad in ("90", "d", "-1d", "3x"):
        with pytest.raises(argparse.ArgumentTypeError, match="not an age"):
            parse_age(bad)


def test_explain_rendering_names_winner_signals_and_timings() -> None:
    trace = {
        "request_id": "r1",
        "task_type": "coding",
        "confidence": 0.91,
        "classification": {"reason": "confident"},
        "weights": {"benchmark": 0.4, "memory": 0.3, "latency": 0.15, "feedback": 0.15},
        "candidates": [
            {
                "model": "coder",
                "rank": 1,
                "final": 0.7,
                "resident": True,
                "signals": {"benchmark": 0.88, "memory": 0.5, "latency": 0.9, "feedback": 0.5},
                "notes": {"memory": "no evidence: neutral"},
            }
        ],
        "winner": "coder",
        "reason": "only candidate",
        "neighbours": 0,
        "memory": "ok",
        "timings_ms": {"classify": 0.2, "embed": 4.0, "search": 0.5, "score": 0.1, "total": 5.0},
        "recorded": False,
    }
    text = render_explain(trace)
    assert "→ 1" in text and "coder (resident)" in text and "0.880" in text
    assert "winner    coder: only candidate" in text and "embed 4.00" in text
    assert "not recorded" in text
