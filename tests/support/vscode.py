"""A real VS Code for tests: code-server with the packaged extension, driven by Playwright.

code-server serves the VS Code workbench to a browser and runs extensions in the real Node
extension host, so the extension spawns ``lfd lsp`` over stdio as it does on a desktop.
Chromium is Debian's (Playwright never downloads a browser here). What is installed where
comes from ``editors/vscode/setup-test-env.sh``; ``missing_prerequisites`` names whatever is
absent and how to get it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.llama_server import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, FrameLocator, Page

REPO = Path(__file__).resolve().parents[2]
EXTENSION_DIR = REPO / "editors" / "vscode"
CACHE = Path(os.environ.get("LOCALFORGE_VSCODE_CACHE", REPO / ".cache" / "vscode"))
VSIX = CACHE / "localforge.vsix"
CODE_SERVER = CACHE / "code-server" / "node_modules" / ".bin" / "code-server"
CHROMIUM = Path(os.environ.get("LOCALFORGE_CHROMIUM", "/usr/bin/chromium"))
EXTENSION_ID = "localforge.localforge"
SETUP = "editors/vscode/setup-test-env.sh"

# Settings that keep the workbench quiet: no start-up editor, trust prompt, hot exit,
# suggest widget (it would take Tab and Escape from the ghost text) or built-in AI features.
QUIET_SETTINGS: dict[str, Any] = {
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "workbench.enableExperiments": False,
    "workbench.welcomePage.walkthroughs.openOnInstall": False,
    "security.workspace.trust.enabled": False,
    "files.hotExit": "off",
    "files.autoSave": "off",
    "editor.quickSuggestions": {"other": "off", "comments": "off", "strings": "off"},
    "editor.suggestOnTriggerCharacters": False,
    "editor.wordBasedSuggestions": "off",
    "editor.parameterHints.enabled": False,
    "editor.autoClosingBrackets": "never",
    "editor.autoClosingQuotes": "never",
    "editor.minimap.enabled": False,
    "editor.inlineSuggest.enabled": True,
    "telemetry.telemetryLevel": "off",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "extensions.ignoreRecommendations": True,
    "update.mode": "none",
    "git.enabled": False,
    "chat.disableAIFeatures": True,
    "chat.commandCenter.enabled": False,
}

GHOST = ".monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text"
# Ghost text is split into syntax-highlighted spans: join the innermost ones line by line,
# lines in their order on screen.
GHOST_LINES_JS = """els => {
  const leaves = els.filter(e => !els.some(o => o !== e && e.contains(o)));
  const lines = new Map();
  for (const e of leaves) {
    const line = e.closest('.view-line') || e.parentElement;
    lines.set(line, (lines.get(line) || '') + (e.textContent || ''));
  }
  return [...lines.entries()]
    .sort((a, b) => a[0].getBoundingClientRect().top - b[0].getBoundingClientRect().top)
    .map(entry => entry[1]);
}"""


def lfd_command() -> list[str]:
    """`lfd` as the interpreter running the tests has it (immune to a stale console script)."""
    return [sys.executable, "-m", "localforge"]


def _sources_newer_than(target: Path) -> Path | None:
    built = target.stat().st_mtime
    candidates = [EXTENSION_DIR / "package.json", EXTENSION_DIR / "package-lock.json"]
    candidates += list((EXTENSION_DIR / "src").rglob("*.ts"))
    return next((p for p in candidates if p.stat().st_mtime > built), None)


def missing_prerequisites() -> str | None:
    """Why the real-editor test cannot run here, with the fix; None when it can."""
    probe = subprocess.run(
        [*lfd_command(), "lsp", "--help"], capture_output=True, text=True, timeout=60
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return f"`lfd lsp` is not available in this checkout ({last})"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed: make setup (pip install -e '.[dev]')"
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM}: run {SETUP} (apt-get install chromium)"
    if not CODE_SERVER.is_file():
        return f"code-server is not installed in {CACHE}: run {SETUP} (or make vscode)"
    if not VSIX.is_file():
        return f"the extension is not packaged at {VSIX}: run {SETUP} (or make vscode)"
    stale = _sources_newer_than(VSIX)
    if stale is not None:
        if not (EXTENSION_DIR / "node_modules").is_dir():
            return f"{VSIX} is older than {stale.relative_to(REPO)}: run {SETUP} to rebuild it"
        build = subprocess.run(
            ["npm", "run", "--silent", "package", "--", "--out", str(VSIX)],
            cwd=EXTENSION_DIR,
            env={**os.environ, "npm_config_cache": str(CACHE / "npm-cache")},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if build.returncode != 0:
            raise RuntimeError(f"rebuilding {VSIX} failed:\n{build.stdout}\n{build.stderr}")
    return None


@dataclass
class CodeServer:
    url: str
    root: Path
    workspace: Path
    user_data: Path
    process: subprocess.Popen[bytes]

    def logs(self) -> dict[str, str]:
        """code-server's own output and every log file the workbench wrote, by name."""
        found = {"code-server.out": (self.root / "code-server.out").read_text(errors="replace")}
        for path in sorted((self.user_data / "logs").rglob("*.log")):
            found[str(path.relative_to(self.user_data / "logs"))] = path.read_text(errors="replace")
        return found

    def extension_log(self) -> str:
        return "\n".join(
            text for name, text in self.logs().items() if name.endswith("LocalForge.log")
        )


@contextlib.contextmanager
def code_server(
    root: Path,
    env: Mapping[str, str],
    settings: Mapping[str, Any],
    files: Mapping[str, str],
) -> Iterator[CodeServer]:
    """Install the .vsix into a fresh profile under ``root`` and serve it on loopback.

    ``files`` are the workspace's files; they exist before the workbench starts, so quick
    open finds them (its file index is built once). code-server enables API proposals for
    every extension; the flag below is what a desktop VS Code needs for the same.
    """
    user_data, extensions, workspace = root / "user-data", root / "extensions", root / "workspace"
    for path in (user_data / "User", extensions, workspace, root / "tmp", root / "cache"):
        path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (workspace / name).write_text(text)
    (user_data / "User" / "settings.json").write_text(
        json.dumps({**QUIET_SETTINGS, **settings}, indent=2)
    )
    env = {**env, "TMPDIR": str(root / "tmp"), "XDG_CACHE_HOME": str(root / "cache")}
    dirs = ["--user-data-dir", str(user_data), "--extensions-dir", str(extensions)]
    installed = subprocess.run(
        [str(CODE_SERVER), "--install-extension", str(VSIX), *dirs],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if installed.returncode != 0:
        raise RuntimeError(f"installing {VSIX} failed:\n{installed.stdout}\n{installed.stderr}")
    port = free_port()
    args = [
        str(CODE_SERVER), "--bind-addr", f"127.0.0.1:{port}", "--auth", "none", *dirs,
        "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
        "--enable-proposed-api", EXTENSION_ID, str(workspace),
    ]  # fmt: skip
    with (root / "code-server.out").open("ab") as out:
        process = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                out_text = (root / "code-server.out").read_text(errors="replace")
                raise RuntimeError(f"code-server exited with {process.returncode}:\n{out_text}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise TimeoutError("code-server did not answer /healthz in 60 s") from None
                time.sleep(0.2)
        yield CodeServer(url, root, workspace, user_data, process)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Workbench:
    """The VS Code page, with the few gestures the tests need."""

    def __init__(self, page: Page, server: CodeServer) -> None:
        self.page = page
        self.server = server

    def open(self, timeout_s: float = 90) -> None:
        self.page.goto(f"{self.server.url}/?folder={self.server.workspace}")
        self.page.wait_for_selector(".monaco-workbench", timeout=timeout_s * 1000)

    def wait_extension_ready(self, timeout_s: float = 90) -> str:
        """Wait for the status bar item the extension shows once its client is running.

        Keys typed before the inline provider is registered are never offered to it.
        """
        item = self.page.locator('.statusbar-item[aria-label^="LocalForge ready"]')
        item.wait_for(timeout=timeout_s * 1000)
        return item.get_attribute("aria-label") or ""

    def open_file(self, name: str) -> None:
        self.page.keyboard.press("Control+P")
        self.page.wait_for_selector(".quick-input-widget input", timeout=10_000)
        self.page.keyboard.type(name)
        self.page.wait_for_selector(f'.quick-input-list [aria-label*="{name}"]', timeout=10_000)
        self.page.keyboard.press("Enter")
        active = ".editor-group-container.active"
        self.page.wait_for_selector(f'{active} .tab.active[aria-label*="{name}"]', timeout=10_000)
        self.page.locator(f"{active} .monaco-editor .view-lines").first.click()

    def type(self, text: str, delay_ms: float = 40) -> None:
        self.page.keyboard.type(text, delay=delay_ms)

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)

    def command(self, title: str) -> None:
        """Run a command from the palette (F1), by its title."""
        self.page.keyboard.press("F1")
        self.page.wait_for_selector(".quick-input-widget input", timeout=10_000)
        self.page.keyboard.type(title)
        self.page.wait_for_selector(
            f'.quick-input-list .monaco-list-row[aria-label*="{title}"]', timeout=10_000
        )
        self.page.keyboard.press("Enter")

    def ghost_text(self) -> str:
        """The ghost text on screen ('' when none), spaces as spaces."""
        lines: list[str] = self.page.eval_on_selector_all(GHOST, GHOST_LINES_JS)
        return "\n".join(lines).replace("\xa0", " ")

    def wait_ghost_text(self, timeout_s: float) -> str:
        self.page.wait_for_selector(GHOST, state="visible", timeout=timeout_s * 1000)
        return self.ghost_text()

    def wait_no_ghost_text(self, timeout_s: float = 5) -> None:
        self.page.wait_for_selector(GHOST, state="detached", timeout=timeout_s * 1000)

    def webview(self) -> FrameLocator:
        """The content of the (one) webview panel: VS Code nests it in two iframes."""
        return self.page.frame_locator("iframe.webview.ready").frame_locator("iframe#active-frame")

    def editor_text(self) -> str:
        """The text of the active editor as rendered (view lines in order, spaces as spaces)."""
        lines: list[str] = self.page.eval_on_selector_all(
            ".editor-group-container.active .monaco-editor .view-lines .view-line",
            """els => els
                .map(e => [parseFloat(e.style.top) || 0, e.textContent || ''])
                .sort((a, b) => a[0] - b[0])
                .map(entry => entry[1])""",
        )
        return "\n".join(lines).replace("\xa0", " ")

    def save(self) -> None:
        self.page.keyboard.press("Control+S")

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))


def browser_env(root: Path) -> dict[str, str]:
    """Chromium's environment: its profile, caches and config under ``root``, not $HOME."""
    for name in ("home", "config", "cache"):
        (root / name).mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "HOME": str(root / "home"),
        "XDG_CONFIG_HOME": str(root / "config"),
        "XDG_CACHE_HOME": str(root / "cache"),
    }


@contextlib.contextmanager
def headless_chromium(root: Path) -> Iterator[Browser]:
    """Debian's Chromium, headless, with its profile under ``root``; closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, env=browser_env(root)
        )
        try:
            yield launched
        finally:
            launched.close()


def save_artifacts(directory: Path, server: CodeServer, extra: Mapping[str, str]) -> None:
    """Keep the logs of a failed run next to its screenshot."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in {**server.logs(), **extra}.items():
        target = directory / name.replace("/", "__")
        target.write_text(text)


def clean_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
