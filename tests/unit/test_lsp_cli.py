"""`lfd lsp` is registered lazily: `lfd serve` never imports pygls."""

from __future__ import annotations

import subprocess
import sys

import pytest

from localforge.errors import ConfigError
from localforge.lsp.main import editor_flags


def test_building_the_lfd_parser_imports_no_pygls() -> None:
    code = (
        "import sys; from localforge.cli.main import build_parser; "
        "build_parser().parse_args(['lsp']); "
        "print(any(name.split('.')[0] in ('pygls', 'lsprotocol') for name in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_editors_may_override_lsp_settings_only() -> None:
    assert editor_flags({"settings": {"lsp.max_tokens": 32, "lsp.temperature": 0.5}}) == {
        "lsp.max_tokens": "32",
        "lsp.temperature": "0.5",
    }
    assert editor_flags(None) == {} and editor_flags({"other": 1}) == {}
    with pytest.raises(ConfigError, match=r"lsp\.\* keys only"):
        editor_flags({"settings": {"daemon.log_level": "debug"}})
