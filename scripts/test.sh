#!/usr/bin/env bash
# The one command that runs every test of Weir:
#
#     bash scripts/test.sh [extra pytest arguments...]
#
# Works from a clean clone on a fresh Debian machine (root, python3 with pip,
# Rust toolchain; cargo-nextest optional). Stages:
#   1. deps    install what the tests need when it is missing: kcat and
#              chromium (Debian packages) and a Python venv at .venv from
#              tests/requirements.txt
#              (re-installed only when that file or the interpreter changes)
#   2. build   cargo build --workspace --bins (debug)
#   3. rust    cargo nextest run --workspace (cargo test if nextest is missing)
#   4. pytest  the integration tests in tests/, which start the real `weir`
#              binary (target/debug/weir, or $WEIR_BIN) and drive it with kcat,
#              confluent-kafka and kafka-python
# Stages 2-4 always all run; the exit status is non-zero if any stage failed.
#
# Environment knobs:
#   WEIR_BIN=PATH        broker binary the Python tests start
#   PYTHON=python3.11    interpreter used to create .venv (default python3)
#   WEIR_SKIP_RUST=1     skip stages 2 and 3 (e.g. with a prebuilt WEIR_BIN)
#   WEIR_SKIP_PYTEST=1   skip stage 4
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
VENV="$ROOT/.venv"
REQS="$ROOT/tests/requirements.txt"
STAMP="$VENV/.weir-requirements.stamp"
PYTHON=${PYTHON:-python3}

export PYTHONDONTWRITEBYTECODE=1
export PIP_DISABLE_PIP_VERSION_CHECK=1
export DEBIAN_FRONTEND=noninteractive

declare -a SUMMARY=()
STATUS=0

log() { printf '\n==> [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '\nscripts/test.sh: %s\n' "$*" >&2; exit 1; }

# record STAGE RC SECONDS
record() {
    local verdict=ok
    if [ "$2" -ne 0 ]; then verdict="FAILED (exit $2)"; STATUS=1; fi
    SUMMARY+=("$(printf '%-8s %-18s %5ss' "$1" "$verdict" "$3")")
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else die "need root (or sudo) to run: $*"
    fi
}

# apt may be busy (another install or unattended upgrades): wait for the
# locks a bounded time and retry a few times instead of failing at once.
apt_get() {
    local attempt
    for attempt in 1 2 3; do
        if as_root apt-get -o DPkg::Lock::Timeout=300 -o Acquire::Retries=3 "$@"; then
            return 0
        fi
        echo "apt-get $* failed (attempt $attempt); retrying in 10 s" >&2
        sleep 10
    done
    return 1
}

APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        apt_get update -q || return 1
        APT_UPDATED=1
    fi
    apt_get install -y -q --no-install-recommends "$@"
}

install_kcat() {
    if command -v kcat >/dev/null 2>&1; then
        return 0
    fi
    log "installing kcat (Debian package)"
    apt_install kcat || die "could not install kcat"
    command -v kcat >/dev/null 2>&1 || die "kcat still not on PATH after install"
}

install_chromium() {
    if [ -x /usr/bin/chromium ]; then
        return 0
    fi
    log "installing chromium (Debian package) for the console's browser test"
    apt_install chromium || die "could not install chromium"
    [ -x /usr/bin/chromium ] || die "/usr/bin/chromium still missing after install"
}

venv_ok() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1
}

create_venv() {
    command -v "$PYTHON" >/dev/null 2>&1 || die "no $PYTHON on PATH (set PYTHON=...)"
    rm -rf "$VENV"
    if "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
        return 0
    fi
    # Debian's own python3 ships venv/ensurepip in a separate package.
    log "python venv module missing; installing python3-venv"
    rm -rf "$VENV"
    local pyver
    pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    apt_install python3-venv "python${pyver}-venv" || apt_install python3-venv \
        || die "could not install python3-venv"
    "$PYTHON" -m venv "$VENV" || die "could not create $VENV"
}

install_python_deps() {
    venv_ok || { log "creating Python venv at .venv"; create_venv; }
    # The stamp records what was installed: the requirements file and the
    # interpreter. Anything else changed means reinstall.
    local want have=""
    want="$(sha256sum "$REQS" | cut -d' ' -f1) $("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')"
    [ -f "$STAMP" ] && have=$(cat "$STAMP")
    if [ "$want" = "$have" ]; then
        echo "Python test dependencies up to date (.venv)"
        return 0
    fi
    log "installing Python test dependencies into .venv"
    rm -f "$STAMP"
    local attempt
    for attempt in 1 2; do
        if "$VENV/bin/python" -m pip install -q -r "$REQS"; then
            echo "$want" >"$STAMP"
            "$VENV/bin/python" -m pip list --format=freeze 2>/dev/null \
                | grep -iE '^(pytest|pytest-timeout|confluent-kafka|kafka-python|lz4|python-snappy|cramjam|playwright)==' || true
            return 0
        fi
        echo "pip install failed (attempt $attempt)" >&2
        sleep 5
    done
    die "could not install tests/requirements.txt into .venv"
}

# ---------------------------------------------------------------- 1. deps
t0=$SECONDS
log "stage deps: kcat, chromium and Python packages"
install_kcat
install_chromium
kcat -V 2>/dev/null | sed -n '1p;4p'
install_python_deps
record deps 0 $((SECONDS - t0))

# ---------------------------------------------------------------- 2. build
if [ "${WEIR_SKIP_RUST:-0}" != 1 ]; then
    t0=$SECONDS
    log "stage build: cargo build --workspace --bins"
    cargo build --workspace --bins
    record build $? $((SECONDS - t0))

# ---------------------------------------------------------------- 3. rust
    t0=$SECONDS
    if cargo nextest --version >/dev/null 2>&1; then
        log "stage rust: cargo nextest run --workspace --no-fail-fast"
        cargo nextest run --workspace --no-fail-fast --no-tests=warn
    else
        log "stage rust: cargo-nextest not found, using cargo test --workspace"
        cargo test --workspace --no-fail-fast
    fi
    record rust $? $((SECONDS - t0))
fi

# ---------------------------------------------------------------- 4. pytest
if [ "${WEIR_SKIP_PYTEST:-0}" != 1 ]; then
    t0=$SECONDS
    export WEIR_BIN=${WEIR_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/weir}
    log "stage pytest: integration tests against $WEIR_BIN"
    if [ ! -x "$WEIR_BIN" ]; then
        echo "warning: $WEIR_BIN does not exist or is not executable; broker tests will fail" >&2
    fi
    "$VENV/bin/python" -m pytest tests/ -q "$@"
    record pytest $? $((SECONDS - t0))
fi

{
    printf '\n==> summary\n'
    printf '  %s\n' "${SUMMARY[@]}"
    if [ "$STATUS" -ne 0 ]; then printf '  => FAILED\n'; else printf '  => all stages passed\n'; fi
} >&2
exit "$STATUS"
