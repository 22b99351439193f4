"""The classifier on labelled queries from elsewhere: right label, fair, routed right, per file.

    .venv/bin/python bench/labelled.py FILE.jsonl ... [--artifact DIR ...] [--misses]

Each file holds JSON Lines ``{"text", "label"}`` (other fields ignored), for instance
questions taken from the train or dev split of a public suite. Every query goes through
``lfd classify`` as a user runs it, once per ``--artifact`` (default: the bundled one), and
the report gives, per file and per label: the share labelled right, the *fair* share (math and
hard_reasoning also accepted for each other, as ``lfd train`` does), the share routed to the
right task type after the confidence fallback, and the share that fell back to ``general``;
then the label-balanced mean and the mean over all rows. With two artifacts the second column
set is printed next to the first, so a retrained artifact is compared on the same queries in
the same run. ``--misses`` lists the queries the last artifact labels wrong.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from localforge.routing.classifier_eval import is_fair


@dataclass(frozen=True)
class Row:
    file: str
    text: str
    label: str


@dataclass(frozen=True)
class Answer:
    label: str
    routed: str
    confidence: float


def read_rows(paths: list[Path]) -> list[Row]:
    rows = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                rows.append(Row(path.stem, str(item["text"]), str(item["label"])))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise SystemExit(
                    f'{path}:{number}: expected a JSON object with "text" and "label" '
                    f"({exc.__class__.__name__}: {exc})"
                ) from None
    return rows


def classify(rows: list[Row], artifact: str | None) -> list[Answer]:
    command = [
        sys.executable,
        "-m",
        "localforge",
        "classify",
        *(["--artifact", artifact] if artifact else []),
    ]
    lines = "".join(json.dumps({"text": row.text}) + "\n" for row in rows)
    done = subprocess.run(command, input=lines, capture_output=True, text=True, check=True)
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    if len(answers) != len(rows):
        raise SystemExit(f"lfd classify answered {len(answers)} of {len(rows)} queries")
    return [Answer(a["task_type"], a["routed_task_type"], a["confidence"]) for a in answers]


def shares(pairs: list[tuple[Row, Answer]]) -> tuple[float, float, float, float]:
    """Labelled right, fair, routed right (fair), fell back to general."""
    n = max(len(pairs), 1)
    return (
        sum(a.label == r.label for r, a in pairs) / n,
        sum(is_fair(r.label, a.label) for r, a in pairs) / n,
        sum(is_fair(r.label, a.routed) for r, a in pairs) / n,
        sum(a.routed == "general" and a.label != "general" for r, a in pairs) / n,
    )


def cells(values: tuple[float, ...]) -> str:
    return " ".join(f"{v:6.3f}" for v in values)


def report(rows: list[Row], runs: list[list[Answer]], names: list[str]) -> None:
    titles = " ".join(f"{t:>6s}" for t in ("right", "fair", "routed", "fallbk"))
    head = "  ".join(titles for _ in runs)
    print(f"artifacts: {' | '.join(names)}")
    print(f"{'':34s} {'n':>5s}  {head}")

    def line(title: str, keep: list[int]) -> tuple[float, ...]:
        found = [shares([(rows[i], run[i]) for i in keep]) for run in runs]
        print(f"{title:34s} {len(keep):5d}  " + "  ".join(cells(f) for f in found))
        return tuple(v for f in found for v in f)

    for name in sorted({r.file for r in rows}):
        line(name, [i for i, r in enumerate(rows) if r.file == name])
    print()
    per_label = [
        line(label, [i for i, r in enumerate(rows) if r.label == label])
        for label in sorted({r.label for r in rows})
    ]
    balanced = tuple(sum(v) / len(per_label) for v in zip(*per_label, strict=True))
    chunks = [balanced[k : k + 4] for k in range(0, len(balanced), 4)]
    print(f"{'balanced (mean over labels)':34s} {'':5s}  " + "  ".join(cells(c) for c in chunks))
    line("all rows", list(range(len(rows))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--artifact", action="append", default=[], help="repeatable")
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()
    rows = read_rows(args.files)
    artifacts: list[str | None] = list(args.artifact) or [None]
    runs = [classify(rows, artifact) for artifact in artifacts]
    report(rows, runs, [a or "bundled" for a in artifacts])
    if args.misses:
        for row, answer in zip(rows, runs[-1], strict=True):
            if not is_fair(row.label, answer.label):
                print(
                    f"{row.file}: {row.label} -> {answer.label} {answer.confidence:.2f}: "
                    f"{row.text[:160]!r}"
                )


if __name__ == "__main__":
    main()
