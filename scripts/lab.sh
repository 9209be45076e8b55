#!/usr/bin/env bash
# Set up a virtualenv with the notebook extras, then open the tutorials in JupyterLab.
# Headless-friendly: JupyterLab listens on 127.0.0.1 only and prints the URL to open.
# Usage: bash scripts/lab.sh [extra jupyter lab args]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e '.[jupyter]'
exec "$VENV/bin/python" -m jupyterlab --ip=127.0.0.1 --no-browser \
  --ServerApp.root_dir="$PWD/notebooks" "$@" notebooks/01-quickstart.ipynb
