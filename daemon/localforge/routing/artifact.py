"""The trained classifier as plain arrays plus a JSON metadata record.

An artifact is a directory with two files:

- ``arrays.npz``: ``vocabulary`` (unicode strings, in feature order), ``idf``,
  ``char_vocabulary`` and ``char_idf`` (the character n-grams; empty when unused),
  ``coef`` (labels × features: word columns, then character columns, then the
  embedding columns when present) and ``intercept``. Loaded with
  ``allow_pickle=False``, so any numpy reads it and no code runs on load; no
  scikit-learn is needed to use it.
- ``metadata.json``: labels, feature settings, temperature, corpus hash,
  training date and the measured metrics.

The ``arrays_sha256`` in the metadata ties the two files together.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from localforge.errors import ConfigError

FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)  # format 1 has no character n-grams
ARRAYS_FILE = "arrays.npz"
METADATA_FILE = "metadata.json"
ARRAY_NAMES = ("vocabulary", "idf", "coef", "intercept", "char_vocabulary", "char_idf")
READABLE = " and ".join(map(str, READABLE_FORMATS))
OPTIONAL_ARRAYS = {"char_vocabulary": np.zeros(0, dtype=str), "char_idf": np.zeros(0)}
BUNDLED_DIR = Path(__file__).resolve().parent / "artifacts"
BUNDLED_NAMES = {"tfidf": "task-classifier", "tfidf+embedding": "task-classifier-embedding"}


@dataclass(frozen=True)
class Artifact:
    vocabulary: np.ndarray  # (n_terms,) str
    idf: np.ndarray  # (n_terms,) float64
    coef: np.ndarray  # (n_labels, n_terms + embedding_dim) float64
    intercept: np.ndarray  # (n_labels,) float64
    metadata: dict[str, Any]
    char_vocabulary: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=str))
    char_idf: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.metadata["labels"])


def bundled_path(features: str = "tfidf") -> Path:
    """The artifact shipped inside the package for a feature set."""
    return BUNDLED_DIR / BUNDLED_NAMES[features]


def save(artifact: Artifact, directory: Path) -> Path:
    """Write both files atomically (each via a temporary file and rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    arrays = {name: getattr(artifact, name) for name in ARRAY_NAMES}
    np.savez_compressed(buffer, **arrays)
    data = buffer.getvalue()
    metadata = dict(artifact.metadata)
    metadata["format_version"] = FORMAT_VERSION
    metadata["arrays_sha256"] = hashlib.sha256(data).hexdigest()
    _write_atomic(directory / ARRAYS_FILE, data)
    text = json.dumps(metadata, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    _write_atomic(directory / METADATA_FILE, text.encode())
    return directory


def load(directory: Path) -> Artifact:
    """Read and check an artifact; every problem is a ConfigError naming the file and the fix."""
    arrays_path, metadata_path = directory / ARRAYS_FILE, directory / METADATA_FILE
    for path in (arrays_path, metadata_path):
        if not path.is_file():
            raise ConfigError(
                f"classifier artifact {directory} has no {path.name}; point classifier.artifact"
                " at a directory written by 'lfd train --out DIR', or unset it for the bundled one"
            )
    try:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        data = arrays_path.read_bytes()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"cannot read classifier artifact {directory}: {exc}; retrain it"
        ) from exc
    if not isinstance(metadata, dict) or metadata.get("format_version") not in READABLE_FORMATS:
        raise ConfigError(
            f"classifier artifact {directory} has format "
            f"{metadata.get('format_version') if isinstance(metadata, dict) else '?'}, "
            f"this lfd reads formats {READABLE}; retrain it with 'lfd train --out {directory}'"
        )
    if hashlib.sha256(data).hexdigest() != metadata.get("arrays_sha256"):
        raise ConfigError(
            f"classifier artifact {directory}: {ARRAYS_FILE} does not match {METADATA_FILE} "
            "(checksum differs); the files were mixed or damaged, retrain it"
        )
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {
                name: npz[name] if name in npz.files else OPTIONAL_ARRAYS[name]
                for name in ARRAY_NAMES
            }
    except (KeyError, ValueError, OSError) as exc:
        raise ConfigError(
            f"classifier artifact {directory} is damaged ({exc}); retrain it"
        ) from exc
    artifact = Artifact(metadata=metadata, **arrays)
    _check_shapes(artifact, directory)
    return artifact


def _check_shapes(artifact: Artifact, directory: Path) -> None:
    n_terms = artifact.vocabulary.shape[0]
    n_chars = artifact.char_vocabulary.shape[0]
    n_labels = len(artifact.metadata.get("labels", ()))
    extra = int((artifact.metadata.get("embedding") or {}).get("dim") or 0)
    expected = (n_labels, n_terms + n_chars + extra)
    if (
        artifact.idf.shape != (n_terms,)
        or artifact.char_idf.shape != (n_chars,)
        or artifact.coef.shape != expected
        or artifact.intercept.shape != (n_labels,)
    ):
        raise ConfigError(
            f"classifier artifact {directory} has inconsistent shapes "
            f"(coef {artifact.coef.shape}, expected {expected}); retrain it"
        )


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
