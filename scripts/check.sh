#!/usr/bin/env bash
# Set up a virtualenv with every dev dependency, then run every check and test CI runs.
# Usage: bash scripts/check.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e '.[dev]'

step() { printf '\n== %s\n' "$*"; }
step "ruff (lint)";        "$VENV/bin/ruff" check src tests bench examples
step "ruff (format)";      "$VENV/bin/ruff" format --check src tests bench examples
step "mypy --strict src";  "$VENV/bin/mypy"
step "import-linter";      "$VENV/bin/lint-imports"
step "pytest"
# pytest exits 5 when it collected no test: that is a failure here too.
"$VENV/bin/python" -m pytest "$@"
