"""Whether llama.cpp's normal mode crashes on this CPU (its AMX kernel on some AVX-512 machines).

Tests that drive llama.cpp without the daemon's healing (a bare worker, llama-cpp-python's own
server) ask here and run in safe mode where it does, so they test what they are about on every
CPU; the healing itself is tested with injected crashes (``tests/e2e/test_safe_mode.py``).
"""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path

PROBE = """
import sys
import llama_cpp
from localforge.models.runtime.worker_main import WARMUP_TEXT
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=64, n_gpu_layers=0, verbose=False)
llm.eval(llm.tokenize(WARMUP_TEXT))  # the evaluation that ends a load in the daemon
"""


@cache
def normal_mode_crashes(model: Path) -> bool:
    """Evaluate a few tokens of ``model`` in normal mode in a child; True if a signal kills it."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(model)], capture_output=True, timeout=300, check=False
    )
    if done.returncode > 0:
        raise RuntimeError(f"the llama.cpp probe failed: {done.stderr.decode()[-2000:]}")
    return done.returncode < 0
