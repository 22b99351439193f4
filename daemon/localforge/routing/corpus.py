"""The labelled data the task classifier learns from and is judged on.

The shared routing corpus (train and dev splits), the repository's own ``data/``
files, and the held-out files and answer-format wrappers in ``data/heldout/`` that
are reported on and never trained on. Rows from public benchmark test sets are
left out wherever examples are loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localforge.errors import ConfigError, InvalidParams
from localforge.routing.classifier import LABELS

REPO_ROOT = Path(__file__).resolve().parents[3]
CORPUS_ENV = "LOCALFORGE_CORPUS_DIR"
# Corpus sources that are public benchmark test sets: never trained, tuned or calibrated on.
BENCHMARK_SOURCES = frozenset({"mmlu", "bbh"})


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    source: str


def corpus_dir() -> Path:
    """The shared routing corpus: $LOCALFORGE_CORPUS_DIR, else ../shared/data/routing-corpus."""
    configured = os.environ.get(CORPUS_ENV)
    return (
        Path(configured) if configured else REPO_ROOT.parent / "shared" / "data" / "routing-corpus"
    )


def own_data_files() -> list[Path]:
    """The labelled additions kept in the repository's ``data/`` directory."""
    return sorted((REPO_ROOT / "data").glob("*.jsonl"))


def default_data_files() -> list[Path]:
    return [corpus_dir() / "train.jsonl", *own_data_files()]


def default_eval_file() -> Path:
    return corpus_dir() / "dev.jsonl"


def heldout_files() -> list[Path]:
    """The repository's held-out files: reported on, never trained on or tuned on."""
    return sorted((REPO_ROOT / "data" / "heldout").glob("*.jsonl"))


def heldout_wrappers_file() -> Path:
    """Answer-format instructions that only the wrapped-dev evaluation uses."""
    return REPO_ROOT / "data" / "heldout" / "wrappers.txt"


def wrap_for_evaluation(examples: Sequence[Example], wrappers: Sequence[str]) -> list[Example]:
    """Each example inside one held-out wrapper (picked by a hash of its text): a wrapper ending
    in ":" goes before the query, any other after it."""
    wrapped = []
    for e in examples:
        digest = hashlib.sha256(e.text.encode()).digest()
        wrapper = wrappers[int.from_bytes(digest[:4], "big") % len(wrappers)]
        text = f"{wrapper} {e.text}" if wrapper.endswith(":") else f"{e.text}\n{wrapper}"
        wrapped.append(Example(text, e.label, e.source))
    return wrapped


def read_wrappers(path: Path) -> list[str]:
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def read_examples(path: Path) -> list[Example]:
    """Read ``{"text", "label", "source"?}`` lines; a bad line is an error naming file and line."""
    if not path.is_file():
        hint = f" (set {CORPUS_ENV} to the routing corpus)" if "routing-corpus" in str(path) else ""
        raise ConfigError(f"training data {path} does not exist{hint}")
    examples = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text, label = row["text"], row["label"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InvalidParams(
                    f'{path}:{number}: expected a JSON object with "text" and "label" ({exc})'
                ) from exc
            if label not in LABELS:
                raise InvalidParams(
                    f"{path}:{number}: unknown label {label!r}; use one of {', '.join(LABELS)}"
                )
            if not isinstance(text, str) or not text.strip():
                raise InvalidParams(f"{path}:{number}: text must be a non-empty string")
            examples.append(Example(text, label, str(row.get("source") or path.stem)))
    return examples


def usable(examples: Sequence[Example]) -> list[Example]:
    """The examples that may be trained or evaluated on: no public benchmark test set."""
    return [e for e in examples if e.source not in BENCHMARK_SOURCES]


def load_examples(paths: Sequence[Path]) -> list[Example]:
    """Every usable example of these files, in order."""
    return usable([e for path in paths for e in read_examples(path)])


def file_digest(paths: Sequence[Path]) -> list[dict[str, Any]]:
    described = []
    for path in paths:
        data = path.read_bytes()
        described.append(
            {
                "name": path.name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "rows": sum(1 for line in data.splitlines() if line.strip()),
            }
        )
    return described
