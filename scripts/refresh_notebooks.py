"""Run tutorial notebooks in place and store them the way nbval checks them.

Usage: python scripts/refresh_notebooks.py [notebooks/NN-name.ipynb ...]   (default: all)

Each notebook runs top to bottom in a fresh kernel from its own folder; its outputs are saved
without widget state (the widgets' models live in the kernel, not in the file) and without
execution timing metadata, so the files stay small and their diffs show only what changed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def refresh(path: Path) -> None:
    """Execute `path` in place; raise if a cell fails."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=False,
    )
    client.execute()
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, path)


def main(argv: list[str]) -> int:
    paths = [Path(arg) for arg in argv] or sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        refresh(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
