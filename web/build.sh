#!/usr/bin/env bash
# Builds Portolan's browser bundle into target/site/pkg/ (portolan.js + portolan.wasm), which the
# server serves at /pkg/ and its HTML loads for hydration.
#
#   bash web/build.sh            debug build (fast, large)
#   bash web/build.sh --release  the `wasm-release` profile, then wasm-opt -Oz (small)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

release=0
for arg in "$@"; do
    case "$arg" in
        --release) release=1 ;;
        -h | --help)
            sed -n '2,6p' "$0"
            exit 0
            ;;
        *)
            echo "build.sh: unknown argument '$arg' (expected --release)" >&2
            exit 2
            ;;
    esac
done

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in
    *":$cargo_bin:"*) ;;
    *) [ -d "$cargo_bin" ] && export PATH="$cargo_bin:$PATH" ;;
esac

target_dir="${CARGO_TARGET_DIR:-target}"
site_dir="${PORTOLAN_SITE_ROOT:-$target_dir/site}"
pkg_dir="$site_dir/pkg"
wasm_opt="web/node_modules/.bin/wasm-opt"

# --- tools: only run the setup when something this build needs is missing ----------------------
needs_setup=0
if ! command -v rustc >/dev/null 2>&1 ||
    [ ! -d "$(rustc --print sysroot)/lib/rustlib/wasm32-unknown-unknown/lib" ]; then
    needs_setup=1
fi
wb_version="$(awk '
    /^\[\[package\]\]/ { in_wb = 0 }
    /^name = "wasm-bindgen"$/ { in_wb = 1; next }
    in_wb && /^version = / { gsub(/"/, "", $3); print $3; exit }
' Cargo.lock 2>/dev/null || true)"
if [ -z "$wb_version" ] || ! command -v wasm-bindgen >/dev/null 2>&1 ||
    [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
    needs_setup=1
fi
if [ "$release" = 1 ]; then
    if [ ! -x "$wasm_opt" ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
        needs_setup=1
    fi
fi
if [ "$needs_setup" = 1 ]; then
    bash tests/setup.sh --web
    hash -r
fi

# --- compile ----------------------------------------------------------------------------------
# One build at a time per target directory: concurrent runs would swap pkg/ under each other.
mkdir -p "$site_dir"
exec 9>"$site_dir/.build.lock"
if ! flock -n 9; then
    echo "build.sh: waiting for another web/build.sh to finish" >&2
    flock 9
fi

if [ "$release" = 1 ]; then
    profile_args=(--profile wasm-release)
    profile_dir=wasm-release
else
    profile_args=()
    profile_dir=debug
fi

echo "build.sh: cargo build (wasm32, hydrate, ${profile_dir})" >&2
cargo build -p portolan-web --lib --target wasm32-unknown-unknown --features hydrate "${profile_args[@]}"

wasm_in="$target_dir/wasm32-unknown-unknown/$profile_dir/portolan_web.wasm"
[ -f "$wasm_in" ] || {
    echo "build.sh: $wasm_in was not produced" >&2
    exit 1
}

# --- bindings (+ wasm-opt), into a fresh directory that replaces pkg/ at the end ----------------
make_pkg() {
    local tmp_dir
    tmp_dir="$(mktemp -d "$site_dir/.pkg.XXXXXX")"
    # shellcheck disable=SC2064 # expand now: tmp_dir is local
    trap "rm -rf '$tmp_dir'" EXIT

    echo "build.sh: wasm-bindgen $wb_version" >&2
    wasm-bindgen --target web --no-typescript --out-dir "$tmp_dir" --out-name portolan "$wasm_in"
    # The server's HTML loads /pkg/portolan.js and /pkg/portolan.wasm (not wasm-bindgen's *_bg.wasm).
    mv "$tmp_dir/portolan_bg.wasm" "$tmp_dir/portolan.wasm"

    if [ "$release" = 1 ]; then
        echo "build.sh: wasm-opt -Oz" >&2
        # The features rustc's wasm32 target enables by default (the wasm's target_features section
        # lists them, and wasm-opt reads it too); wasm-opt rejects instructions of disabled features.
        "$wasm_opt" -Oz \
            --enable-bulk-memory \
            --enable-nontrapping-float-to-int \
            --enable-sign-ext \
            --enable-mutable-globals \
            --enable-reference-types \
            --enable-multivalue \
            -o "$tmp_dir/portolan.opt.wasm" "$tmp_dir/portolan.wasm"
        mv "$tmp_dir/portolan.opt.wasm" "$tmp_dir/portolan.wasm"
    fi

    chmod 755 "$tmp_dir"
    rm -rf "$pkg_dir"
    mv -T "$tmp_dir" "$pkg_dir"
    trap - EXIT
}

# Skip the bindings and wasm-opt when pkg/ already holds the output of this very wasm, profile and
# wasm-bindgen version.
stamp_file="$site_dir/.pkg.stamp"
stamp="$(sha256sum "$wasm_in" | cut -d' ' -f1) $profile_dir wasm-bindgen-$wb_version"
if [ -f "$pkg_dir/portolan.js" ] && [ -f "$pkg_dir/portolan.wasm" ] && [ -f "$stamp_file" ] &&
    [ "$(cat "$stamp_file")" = "$stamp" ]; then
    echo "build.sh: $pkg_dir is up to date" >&2
else
    rm -f "$stamp_file"
    make_pkg
    printf '%s\n' "$stamp" >"$stamp_file"
fi

# --- report -------------------------------------------------------------------------------------
human() { awk -v b="$1" 'BEGIN { printf "%.1f KB", b / 1024 }'; }
echo "build.sh: bundle in $pkg_dir (${profile_dir}):"
for f in portolan.wasm portolan.js; do
    raw="$(wc -c <"$pkg_dir/$f")"
    gz="$(gzip -9 -c "$pkg_dir/$f" | wc -c)"
    printf '  %-14s %9d bytes (%s)   gzip -9: %9d bytes (%s)\n' "$f" "$raw" "$(human "$raw")" "$gz" "$(human "$gz")"
done
