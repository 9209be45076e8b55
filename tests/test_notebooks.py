"""The tutorials keep their shape: one per README entry, each with its own cluster, an exercise
and its solution, saved with outputs (nbval compares them) but without widget state."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def _cells(path: Path) -> list[dict[str, object]]:
    return list(json.loads(path.read_text())["cells"])


def _source(cell: dict[str, object]) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else str(source)


def test_there_are_ten_and_the_readme_lists_each() -> None:
    assert [p.name[:2] for p in NOTEBOOKS] == [f"{n:02d}" for n in range(1, 11)]
    readme = (ROOT / "README.md").read_text()
    listed = re.findall(r"\(notebooks/([0-9][0-9]-[a-z0-9-]+\.ipynb)\)", readme)
    assert listed == [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_starts_a_cluster_ends_with_an_exercise_and_is_stored_lean(path: Path) -> None:
    notebook = json.loads(path.read_text())
    cells = notebook["cells"]
    sources = [_source(c) for c in cells]
    assert sources[0].startswith(f"# {int(path.name[:2])}. "), "a numbered title first"
    assert any("%kafka cluster start" in s or "Cluster.start(" in s for s in sources)
    exercise = next(i for i, s in enumerate(sources) if re.search(r"^## Exercise", s, re.M))
    assert any(s.startswith("# Solution") for s in sources[exercise:])
    assert "%kafka cluster stop" in sources[-1]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in code), "saved after a full run"
    assert "widgets" not in notebook["metadata"], "widget state is not stored"
    ignored = [s for s in sources if "NBVAL_IGNORE_OUTPUT" in s]
    assert len(ignored) <= 2, "only genuinely timing-dependent cells escape nbval"
    assert not any("NBVAL_SKIP" in s for s in sources), "every cell runs"
    assert path.stat().st_size < 150_000
