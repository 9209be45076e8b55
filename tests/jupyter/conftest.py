"""Fixtures for the notebook layer: a real IPython shell with the extension, and a thread check."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kstream_nb.jupyter.session import session


def _ours() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("kstream-nb")]


@pytest.fixture(autouse=True)
def no_thread_left() -> Iterator[None]:
    """Every test ends with the kernel's cluster stopped and no widget or cluster thread alive."""
    yield
    session.stop()
    deadline = time.monotonic() + 5
    while _ours() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _ours(), f"threads left behind: {_ours()}"


@pytest.fixture(scope="session")
def ip() -> Any:
    """IPython's global test shell with `%load_ext kstream_nb` done."""
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    assert shell is not None
    shell.run_line_magic("load_ext", "kstream_nb")
    return shell
