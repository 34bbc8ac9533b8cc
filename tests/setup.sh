#!/usr/bin/env bash
# Installs what Portolan's build and tests need, skipping whatever is already present.
#
#   bash tests/setup.sh          everything: system packages (PostgreSQL, chromium, node), the wasm
#                                target, wasm-bindgen, the npm tools in tests/ and web/
#   bash tests/setup.sh --web    only what web/build.sh needs (wasm target, wasm-bindgen, node, web/)
#
# Idempotent, non-interactive, and fast (well under 2 s) when everything is already there.
# Only the package registries are used: Debian (apt), crates.io (cargo install), npm, and the Rust
# toolchain's own rustup. Runs as root (or with sudo available for apt).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

MODE=all
case "${1:-}" in
    "") ;;
    --web) MODE=web ;;
    -h | --help)
        sed -n '2,10p' "$0"
        exit 0
        ;;
    *)
        echo "setup.sh: unknown argument '$1' (expected --web or nothing)" >&2
        exit 2
        ;;
esac

log() { printf 'setup: %s\n' "$*" >&2; }
die() {
    printf 'setup: error: %s\n' "$*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# rustup's cargo directory, when a non-login shell did not put it on PATH.
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in
    *":$cargo_bin:"*) ;;
    *) [ -d "$cargo_bin" ] && export PATH="$cargo_bin:$PATH" ;;
esac

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif have sudo; then
        sudo -n "$@"
    else
        die "need root to run: $*"
    fi
}

# ---------------------------------------------------------------------------------------------
# 1. Debian packages: one `apt-get update` + `apt-get install` for everything missing.
# ---------------------------------------------------------------------------------------------
apt_missing=()

if [ "$MODE" = all ]; then
    # PostgreSQL server binaries (initdb, pg_ctl, postgres) for the throwaway test cluster.
    if ! have initdb && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
        apt_missing+=(postgresql)
    fi
    # psql: the end-to-end harness creates and drops its databases with it.
    if ! have psql; then
        apt_missing+=(postgresql-client)
    fi
    # The browser for the end-to-end tests.
    if [ ! -x /usr/bin/chromium ]; then
        apt_missing+=(chromium)
    fi
fi
# node + npm: the end-to-end tests, and binaryen's wasm-opt for the release bundle.
if ! have node; then
    apt_missing+=(nodejs)
fi
if ! have npm; then
    apt_missing+=(npm)
fi
# A C toolchain for `cargo install` and crates with build scripts.
if ! have cc; then
    apt_missing+=(build-essential)
fi

if [ "${#apt_missing[@]}" -gt 0 ]; then
    have apt-get || die "missing ${apt_missing[*]} and apt-get is not available"
    log "installing Debian packages: ${apt_missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq </dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" </dev/null >&2
fi

# ---------------------------------------------------------------------------------------------
# 2. Rust: the wasm32 target, rustfmt/clippy, and wasm-bindgen-cli matching Cargo.lock.
# ---------------------------------------------------------------------------------------------
have cargo || die "cargo is not on PATH (install the Rust toolchain with rustup first)"

sysroot="$(rustc --print sysroot)"
if [ ! -d "$sysroot/lib/rustlib/wasm32-unknown-unknown/lib" ]; then
    have rustup || die "the wasm32-unknown-unknown target is missing and rustup is not available"
    log "adding rustup target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown </dev/null >&2
fi

if [ "$MODE" = all ]; then
    components=()
    [ -x "$sysroot/bin/rustfmt" ] || components+=(rustfmt)
    [ -x "$sysroot/bin/cargo-clippy" ] || components+=(clippy)
    if [ "${#components[@]}" -gt 0 ]; then
        have rustup || die "missing Rust components ${components[*]} and rustup is not available"
        log "adding rustup components: ${components[*]}"
        rustup component add "${components[@]}" </dev/null >&2
    fi
fi

# The wasm-bindgen CLI must be exactly the version of the `wasm-bindgen` crate in Cargo.lock.
if [ ! -f Cargo.lock ]; then
    log "no Cargo.lock yet: generating it"
    cargo generate-lockfile </dev/null >&2
fi
wb_version="$(awk '
    /^\[\[package\]\]/ { in_wb = 0 }
    /^name = "wasm-bindgen"$/ { in_wb = 1; next }
    in_wb && /^version = / { gsub(/"/, "", $3); print $3; exit }
' Cargo.lock)"
[ -n "$wb_version" ] || die "could not find the wasm-bindgen package in Cargo.lock"

wb_installed=""
if have wasm-bindgen; then
    wb_installed="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" || true
fi
if [ "$wb_installed" != "$wb_version" ]; then
    log "installing wasm-bindgen-cli $wb_version (found: ${wb_installed:-none}); this takes a few minutes"
    # Not --locked: one of its locked dependency versions is missing from the registry.
    cargo install wasm-bindgen-cli --version "$wb_version" --force </dev/null >&2
    hash -r
    wb_installed="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" || true
    [ "$wb_installed" = "$wb_version" ] ||
        die "wasm-bindgen on PATH is '${wb_installed:-none}', expected $wb_version (is ~/.cargo/bin early on PATH?)"
fi

# ---------------------------------------------------------------------------------------------
# 3. npm tools: tests/ (playwright-core) and web/ (binaryen's wasm-opt).
# ---------------------------------------------------------------------------------------------
npm_deps() {
    local dir="$1"
    [ -f "$dir/package.json" ] || return 0
    # Up to date when node_modules exists and is newer than the lock file (npm writes
    # node_modules/.package-lock.json on every successful install).
    if [ -f "$dir/package-lock.json" ] && [ -f "$dir/node_modules/.package-lock.json" ] &&
        [ ! "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
        return 0
    fi
    local cmd=ci
    [ -f "$dir/package-lock.json" ] || cmd=install
    log "npm $cmd in $dir/"
    (cd "$dir" && npm "$cmd" --no-audit --no-fund --loglevel=error </dev/null >&2)
    mkdir -p "$dir/node_modules"
    touch "$dir/node_modules/.package-lock.json"
}

if [ "$MODE" = all ]; then
    npm_deps tests
fi
npm_deps web
