#!/usr/bin/env bash
# Install what the real-editor test of the VS Code extension needs, offline-safe and idempotent:
#   Debian: chromium (the browser Playwright drives), and what code-server's native modules
#           build with (libkrb5-dev, pkg-config, build-essential), ripgrep (seeds @vscode/ripgrep)
#   npm:    code-server (VS Code served to a browser, with the real Node extension host)
#           into $LOCALFORGE_VSCODE_CACHE (default .cache/vscode in the repository)
#   the extension: its node modules (npm ci) and the packaged .vsix in the same cache
# Everything it writes outside that cache and editors/vscode/node_modules goes to a temporary
# tree, never to $HOME. Run it again at any time: finished steps are skipped.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${LOCALFORGE_VSCODE_CACHE:-$REPO/.cache/vscode}
CODE_SERVER_VERSION=4.100.3
# @vscode/ripgrep (a code-server dependency) downloads this archive in its postinstall; the
# cache it looks in first is seeded with Debian's rg so nothing is fetched from outside npm.
RIPGREP_PKG_VERSION=1.15.11
RIPGREP_ARCHIVE=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz

say() { printf 'setup-test-env: %s\n' "$*"; }
start=$SECONDS

# --- Debian packages ---------------------------------------------------------------------
need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v rg >/dev/null || need_apt+=(ripgrep)
for pkg in libkrb5-dev pkg-config build-essential; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
        || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        say "missing Debian packages: ${need_apt[*]}; run as root or: sudo apt-get install -y ${need_apt[*]}"
        exit 1
    fi
    say "apt-get install ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
for tool in node npm chromium rg; do
    command -v "$tool" >/dev/null || { say "$tool is not on PATH"; exit 1; }
done

# --- a private temporary tree: npm, node-gyp and code-server's postinstall write there -----
mkdir -p "$CACHE"
work=$(mktemp -d "${TMPDIR:-/tmp}/lf-vscode-setup.XXXXXX")
trap 'rm -rf "$work"' EXIT
export TMPDIR="$work/tmp" XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data" \
    XDG_CACHE_HOME="$work/cache" npm_config_cache="$CACHE/npm-cache"
mkdir -p "$TMPDIR" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME"
# Node headers for node-gyp come from Debian's nodejs package (otherwise they are downloaded),
# and node-pty's postinstall runs `npx node-gyp`, which asks for confirmation without this.
export npm_config_nodedir=${npm_config_nodedir:-/usr} npm_config_yes=true \
    npm_config_unsafe_perm=true npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

# --- code-server ---------------------------------------------------------------------------
CS_DIR=$CACHE/code-server-$CODE_SERVER_VERSION
CS_BIN=$CS_DIR/node_modules/.bin/code-server
if [[ -x $CS_BIN ]] && "$CS_BIN" --version 2>/dev/null | grep -q "^$CODE_SERVER_VERSION "; then
    say "code-server $CODE_SERVER_VERSION already installed in $CS_DIR"
else
    say "installing code-server $CODE_SERVER_VERSION into $CS_DIR"
    rg_cache="$TMPDIR/vscode-ripgrep-cache-$RIPGREP_PKG_VERSION"
    mkdir -p "$rg_cache"
    cp "$(command -v rg)" "$work/rg"
    tar -C "$work" -czf "$rg_cache/$RIPGREP_ARCHIVE" rg
    rm -rf "$CS_DIR"
    mkdir -p "$CS_DIR"
    echo '{"name": "localforge-code-server", "private": true}' >"$CS_DIR/package.json"
    (cd "$CS_DIR" && npm install --loglevel=error "code-server@$CODE_SERVER_VERSION")
    "$CS_BIN" --version | head -1
fi
ln -sfn "$CS_DIR" "$CACHE/code-server"

# --- the extension ------------------------------------------------------------------------
cd "$HERE"
if [[ ! -f node_modules/.package-lock.json ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
    say "npm ci in editors/vscode"
    npm ci --loglevel=error
fi
npm run --silent package -- --out "$CACHE/localforge.vsix"
say "extension packaged: $CACHE/localforge.vsix"
say "done in $((SECONDS - start)) s"
