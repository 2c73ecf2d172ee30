#!/usr/bin/env bash
# Create .venv and install the pinned packages from pyproject.toml (idempotent; `make` runs it when
# pyproject.toml changes). The console gets short progress lines; pip's own output (its warnings,
# the C++ compiler's) goes to var/install.log, whose tail is printed if a step fails.
# The first run takes minutes: vnpy_ctp, the CTP broker library, is compiled from C++ source.
# ARBIG_VENV / ARBIG_INSTALL_LOG / ARBIG_PROGRESS_S change the folder, the log and the progress
# interval (used by tests/scripts/test_setup_venv.py).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${ARBIG_VENV:-.venv}
LOG=${ARBIG_INSTALL_LOG:-var/install.log}
PROGRESS_S=${ARBIG_PROGRESS_S:-30}
PYTHON=${PYTHON:-python3.11}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off

say() { echo "==> $*"; }
note() { echo "    $*"; }
since() { local s=$((SECONDS - $1)); if ((s >= 60)); then echo "$((s / 60))m$((s % 60))s"; else echo "${s}s"; fi; }

fail() {
    echo "ERROR: $1 failed. Last lines of $LOG:" >&2
    tail -n 25 "$LOG" | sed 's/^/    /' >&2
    echo "The whole output is in $LOG" >&2
    exit 1
}

seen=0
# Name each package pip starts compiling, from the log lines written since the last call.
name_builds() {
    local total
    total=$(wc -l <"$LOG")
    if ((total > seen)); then
        sed -n "$((seen + 1)),${total}p" "$LOG" |
            sed -n 's/^ *Building wheel for \([^ ]*\) .*: started$/    compiling \1 from source .../p'
        seen=$total
    fi
}

# Run one step with its output in the log; a line every PROGRESS_S seconds says it is still going.
run_step() {
    local what=$1 start=$SECONDS last=$SECONDS pid
    shift
    echo "---- $what: $*" >>"$LOG"
    "$@" >>"$LOG" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        name_builds
        if ((SECONDS - last >= PROGRESS_S)); then
            note "... still $what ($(since "$start"))"
            last=$SECONDS
        fi
    done
    wait "$pid" || fail "$what"
    name_builds
}

command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
    echo "ARBIG needs Python 3.11 (found: $("$PYTHON" --version 2>&1)). Install python3.11 and retry." >&2
    exit 1
fi
mkdir -p "$(dirname "$LOG")"
echo "==== $(date '+%F %T') scripts/setup_venv.sh" >"$LOG"
begin=$SECONDS

if [ ! -x "$VENV/bin/python" ]; then
    say "creating the Python 3.11 virtual environment $VENV"
    run_step "creating $VENV" "$PYTHON" -m venv "$VENV"
fi
if "$VENV/bin/python" -c 'import importlib.metadata as m; m.version("vnpy_ctp")' >/dev/null 2>&1; then
    say "checking the Python packages (pyproject.toml or this script changed; quick when nothing is new)"
else
    say "first set-up: installing ARBIG's Python packages (vnpy, vnpy_ctp, FastAPI, ..., pinned in pyproject.toml)"
    note "vnpy_ctp, the CTP broker library, is compiled from C++ source: this takes 3-5 minutes, once."
fi
note "pip's output goes to $LOG"
run_step "upgrading pip" "$VENV/bin/python" -m pip install --upgrade pip
run_step "installing packages" "$VENV/bin/python" -m pip install -e '.[dev]'
touch "$VENV/.installed"
say "Python packages ready ($(since "$begin"))"
