"""Every example runs, and the core imports without Jupyter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_script(path: str, *args: str, timeout: float) -> str:
    """Run a script of the repository (e.g. `bench/bench_log.py`) and return what it printed."""
    command = [sys.executable, str(ROOT / path), *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=True
    ).stdout


def test_log_demo_runs_and_shows_retention(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "log_demo.py"), "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "appended offsets 50-59" in out
    assert "deleted 2 segment(s)" in out
    assert (tmp_path / "orders-0" / f"{40:020d}.log").exists()


def test_core_imports_without_jupyter_packages() -> None:
    code = (
        "import sys, kstream_nb, kstream_nb.log\n"
        "bad = [m for m in ('IPython', 'ipywidgets', 'anywidget', 'altair') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_log_benchmark_runs_in_quick_mode() -> None:
    out = run_script("bench/bench_log.py", "--quick", "--repeat", "1", timeout=120)
    assert "encode + append" in out
    assert "plain os.write" in out


def test_cluster_demo_runs_in_simulated_time() -> None:
    out = run_script("examples/cluster_demo.py", "--simulated", timeout=120)
    assert "rejoined every ISR" in out
    assert "nothing acknowledged was lost" in out


def test_cluster_benchmark_runs_in_quick_mode() -> None:
    out = run_script("bench/bench_cluster.py", "--quick", "--repeat", "1", timeout=300)
    assert "Replication cost" in out
    assert "kill leader" in out


def test_sql_benchmark_runs_in_quick_mode() -> None:
    out = run_script("bench/bench_sql.py", "--quick", timeout=300)
    assert "cluster.sql (DuckDB)" in out
    assert "Consumer loop (Python)" in out


def test_the_seeds_streams_topology_runs_as_an_example() -> None:
    out = run_script("examples/streams_demo.py", timeout=120)
    assert "orders per customer: {'CUST-1': 2, 'CUST-2': 2}" in out
    assert "high-value-orders: ['ORD-2', 'ORD-4']" in out
    assert "enriched-orders: ['ORD-1', 'ORD-2', 'ORD-3', 'ORD-4']" in out


def test_streams_benchmark_runs_in_quick_mode() -> None:
    out = run_script("bench/bench_streams.py", "--quick", timeout=300)
    assert "KafkaStreams, end to end" in out
    assert "group_by_dynamic" in out


def test_every_python_example_in_the_readme_runs(tmp_path: Path) -> None:
    import re

    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert len(blocks) >= 2
    for i, block in enumerate(blocks):
        script = tmp_path / f"readme_{i}.py"
        script.write_text(block)
        subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            check=True,
            timeout=120,
            capture_output=True,
        )


NOTEBOOK_RUNNER = """
import sys
from IPython.testing.globalipapp import start_ipython
shell = start_ipython()
for cell in open(sys.argv[1]).read().split("\\n\\n"):
    result = shell.run_cell(cell)
    if not result.success:
        sys.exit(f"cell failed: {cell!r}")
shell.run_line_magic("kafka", "cluster stop")
"""


def test_the_readme_notebook_example_runs_cell_by_cell(tmp_path: Path) -> None:
    import re

    blocks = re.findall(r"```ipython\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert blocks, "the README shows a notebook example"
    (tmp_path / "runner.py").write_text(NOTEBOOK_RUNNER)
    for i, block in enumerate(blocks):
        cells = tmp_path / f"readme_{i}.ipy"
        cells.write_text(block)
        done = subprocess.run(
            [sys.executable, str(tmp_path / "runner.py"), str(cells)],
            cwd=tmp_path,
            timeout=120,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "Killed broker 2" in done.stdout


def test_the_paired_streams_comparison_runs_and_removes_its_checkouts() -> None:
    out = run_script(
        "bench/compare_streams.py", "HEAD", "HEAD", "--pairs", "1", "--records", "2000", timeout=300
    )
    assert "pair 1: old" in out
    assert "new/old per pair" in out
    trees = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True, check=True
    ).stdout
    assert "/old " not in trees
    assert "/new " not in trees
