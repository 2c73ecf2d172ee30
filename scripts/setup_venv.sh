#!/usr/bin/env bash
# Create .venv and install the pinned packages from pyproject.toml (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
    echo "ARBIG needs Python 3.11 (found: $("$PYTHON" --version 2>&1)). Install python3.11 and retry." >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "==> creating virtual environment .venv"
    "$PYTHON" -m venv .venv
fi
echo "==> installing Python packages (pinned in pyproject.toml)"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
touch .venv/.installed
