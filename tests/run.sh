#!/usr/bin/env bash
# Runs every Portolan check and test: `bash tests/run.sh`.
#
# Steps: setup, formatting, the release browser bundle, clippy (server side and wasm side), a
# throwaway PostgreSQL cluster, the Rust tests, and the end-to-end browser tests. A failing step
# does not stop the independent ones; steps that depend on a failed step are skipped. Exits non-zero
# when anything failed, after a summary of every step and its time.
#
# (The functions below run through `step`, which shellcheck cannot follow.)
# shellcheck disable=SC2317
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
root="$(pwd -P)"

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in
    *":$cargo_bin:"*) ;;
    *) [ -d "$cargo_bin" ] && export PATH="$cargo_bin:$PATH" ;;
esac
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"

target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac

if [ -t 1 ]; then
    bold=$'\e[1m' red=$'\e[31m' green=$'\e[32m' yellow=$'\e[33m' reset=$'\e[0m'
else
    bold="" red="" green="" yellow="" reset=""
fi

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

names=()
results=()
times=()
failed=0
run_start="$(now)"

# step ID "Title" command...  (runs the command, records PASS/FAIL and its time)
declare -A status
step() {
    local id="$1" title="$2"
    shift 2
    printf '\n%s==> [%s] %s%s\n' "$bold" "$id" "$title" "$reset"
    # Functions print their own commands.
    declare -F "$1" >/dev/null || printf '    $ %s\n' "$*"
    local t0 t1 rc
    t0="$(now)"
    "$@"
    rc=$?
    t1="$(now)"
    local secs
    secs="$(elapsed "$t0" "$t1")"
    names+=("$id: $title")
    times+=("$secs")
    if [ "$rc" -eq 0 ]; then
        results+=(PASS)
        status[$id]=ok
        printf '%s<== [%s] passed in %ss%s\n' "$green" "$id" "$secs" "$reset"
    else
        results+=(FAIL)
        status[$id]=failed
        failed=1
        printf '%s<== [%s] FAILED (exit %s) after %ss%s\n' "$red" "$id" "$rc" "$secs" "$reset"
    fi
    return "$rc"
}

# skip ID "Title" reason
skip() {
    printf '\n%s==> [%s] %s: skipped (%s)%s\n' "$yellow" "$1" "$2" "$3" "$reset"
    names+=("$1: $2")
    times+=("-")
    results+=(SKIP)
    status[$1]=skipped
    failed=1
}

ok() { [ "${status[$1]:-}" = ok ]; }

summary() {
    printf '\n%s==> Summary%s\n' "$bold" "$reset"
    local i colour
    for i in "${!names[@]}"; do
        case "${results[$i]}" in
            PASS) colour="$green" ;;
            FAIL) colour="$red" ;;
            *) colour="$yellow" ;;
        esac
        printf '  %s%-4s%s %8s  %s\n' "$colour" "${results[$i]}" "$reset" \
            "$([ "${times[$i]}" = - ] && echo - || echo "${times[$i]}s")" "${names[$i]}"
    done
    printf '  %-4s %8ss\n' total "$(elapsed "$run_start" "$(now)")"
    if [ "$failed" -eq 0 ]; then
        printf '%sAll checks passed.%s\n' "$green$bold" "$reset"
    else
        printf '%sSome checks failed.%s\n' "$red$bold" "$reset"
    fi
}

# --- the throwaway database, always stopped on exit --------------------------------------------
pg_dir=""
cleanup() {
    if [ -n "$pg_dir" ]; then
        bash "$root/tests/pg.sh" stop "$pg_dir" || true
        rm -rf "$pg_dir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_db() {
    pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/portolan-test-pg.XXXXXX")" || return 1
    local url
    url="$(bash "$root/tests/pg.sh" start "$pg_dir")" || return 1
    export DATABASE_URL="$url"
    echo "    DATABASE_URL=$DATABASE_URL"
}

rust_tests() {
    if cargo nextest --version >/dev/null 2>&1; then
        local extra=()
        if cargo nextest run --help 2>/dev/null | grep -q -- '--no-tests'; then
            extra+=(--no-tests=warn)
        fi
        local rc=0
        echo "    $ cargo nextest run --workspace --no-fail-fast ${extra[*]}"
        cargo nextest run --workspace --no-fail-fast "${extra[@]}" || rc=$?
        # nextest does not run doc tests.
        echo "    $ cargo test --workspace --doc --no-fail-fast"
        cargo test --workspace --doc --no-fail-fast || rc=$?
        return "$rc"
    else
        echo "    (cargo-nextest not installed)"
        echo "    $ cargo test --workspace --no-fail-fast"
        cargo test --workspace --no-fail-fast
    fi
}

clippy_all() {
    local rc=0
    echo "    $ cargo clippy --workspace --all-targets -- -D warnings"
    cargo clippy --workspace --all-targets -- -D warnings || rc=$?
    echo "    $ cargo clippy -p portolan-web --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings"
    cargo clippy -p portolan-web --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings || rc=$?
    return "$rc"
}

e2e() {
    local files=("$root"/tests/e2e/*.test.mjs)
    [ -e "${files[0]}" ] || {
        echo "no end-to-end tests in tests/e2e/" >&2
        return 1
    }
    local flags=(--test)
    # Only node versions that know --test-concurrency get it (files run one at a time either way here).
    if node --test-concurrency=1 -e 0 >/dev/null 2>&1; then
        flags+=(--test-concurrency=1)
    fi
    echo "    $ node ${flags[*]} tests/e2e/*.test.mjs"
    PORTOLAN_BIN="$target_dir/debug/portolan" \
        PORTOLAN_SITE_ROOT="$target_dir/site" \
        DATABASE_URL="$DATABASE_URL" \
        node "${flags[@]}" "${files[@]}"
    local rc=$?
    echo "    (server logs: ${target_dir#"$root"/}/e2e/logs/, screenshots: ${target_dir#"$root"/}/e2e/screenshots/)"
    return "$rc"
}

# --- the steps ----------------------------------------------------------------------------------
if ! step setup "Install tools (tests/setup.sh)" bash tests/setup.sh; then
    summary
    exit 1
fi
step fmt "Formatting" cargo fmt --all -- --check
step oidc "The test OpenID Connect provider (node --test tests/oidc/)" node --test tests/oidc/provider.test.mjs
step web "Browser bundle, release (web/build.sh --release)" bash web/build.sh --release
step clippy "Clippy (workspace; wasm side with hydrate)" clippy_all
step db "Throwaway PostgreSQL cluster (tests/pg.sh)" start_db

if ok db; then
    step test "Rust tests" rust_tests
else
    skip test "Rust tests" "no database"
fi

step server "Build the server (portolan)" cargo build -p portolan-server --bin portolan

if ok db && ok web && ok server; then
    step e2e "End-to-end tests (node --test tests/e2e/)" e2e
else
    skip e2e "End-to-end tests" "needs the database, the bundle and the server"
fi

summary
exit "$failed"
