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
if [ -z "${KSTREAM_NB_NO_INSTALL:-}" ]; then  # set by the test that checks this script
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e '.[jupyter]'
fi
ROOT_FLAG=()
if [ "$(id -u)" = 0 ]; then ROOT_FLAG=(--allow-root); fi  # containers and CI machines run as root
exec "$VENV/bin/python" -m jupyterlab --ip=127.0.0.1 --no-browser "${ROOT_FLAG[@]}" \
  --ServerApp.root_dir="$PWD/notebooks" --LabApp.default_url=/lab/tree/01-quickstart.ipynb "$@"
