"""binder/ sets up what mybinder.org needs: a fresh venv built the way repo2docker builds it
(binder/requirements.txt, then binder/postBuild) imports kstream_nb and runs notebook 1.

It installs from the package index, as Binder does (pip's cache makes a second run quick).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], env: dict[str, str], timeout: float) -> None:
    done = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (
        f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )


def test_postbuild_is_executable() -> None:
    assert os.access(ROOT / "binder" / "postBuild", os.X_OK)


@pytest.mark.timeout(1200)
def test_a_venv_set_up_like_binder_runs_the_quickstart(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(venv),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"], env, 600)
    _run(["bash", "binder/postBuild"], env, 600)
    _run([python, "-c", "import kstream_nb, kstream_nb.jupyter, kstream_nb.sql"], env, 120)
    out = tmp_path / "out"
    _run(
        [
            python,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--ExecutePreprocessor.timeout=300",
            "--ExecutePreprocessor.kernel_name=python3",
            f"--output-dir={out}",
            "notebooks/01-quickstart.ipynb",
        ],
        env,
        400,
    )
    executed = json.loads((out / "01-quickstart.ipynb").read_text())
    texts = [
        "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
        for cell in executed["cells"]
        for o in cell.get("outputs", [])
    ]
    assert not [
        o for c in executed["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"
    ]
    assert any("Started 3 broker(s)" in t for t in texts)
    assert any("('CUST-1', 0, 0), ('CUST-1', 0, 1)" in t for t in texts)
    assert any(t.startswith("Stopped the cluster.") for t in texts)
