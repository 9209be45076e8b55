"""The README's main command (`bash scripts/lab.sh`) serves the quickstart notebook on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_lab_script_serves_the_quickstart_on_loopback(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "VENV": sys.prefix,
        "KSTREAM_NB_NO_INSTALL": "1",
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
    }
    log = (tmp_path / "lab.log").open("w+")
    lab = subprocess.Popen(
        ["bash", "scripts/lab.sh", f"--ServerApp.port={port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None:
            assert lab.poll() is None, (tmp_path / "lab.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "lab.log").read_text()
            for line in (tmp_path / "lab.log").read_text().splitlines():
                if "http://127.0.0.1:" in line and "token=" in line:
                    url = line.split()[-1]
            time.sleep(0.2)
        assert url.startswith(f"http://127.0.0.1:{port}/lab/tree/01-quickstart.ipynb?token=")
        token = url.split("token=")[1]
        api = f"http://127.0.0.1:{port}/api/contents/01-quickstart.ipynb?token={token}"
        with urllib.request.urlopen(api, timeout=10) as answer:
            assert json.load(answer)["type"] == "notebook"
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait(timeout=10)
        log.close()
