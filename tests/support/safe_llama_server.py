"""``python -m llama_cpp.server`` with llama.cpp's extra buffer types off, as in safe mode.

Run as ``python -m tests.support.safe_llama_server ARGS``: the server's own arguments.
"""

from __future__ import annotations

import runpy
from typing import Any

import llama_cpp.llama_cpp as low

_original = low.llama_model_default_params


def _without_extra_buffer_types() -> Any:
    params = _original()
    params.use_extra_bufts = False
    return params


low.llama_model_default_params = _without_extra_buffer_types
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
