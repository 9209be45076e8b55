"""The offline Vega runtime: Vega, Vega-Lite and vega-embed, sent to the front end once per kernel.

`vl_convert.javascript_bundle()` holds all three as one ~900 KB ES module, so charts render with
no CDN. One hidden `VegaRuntime` widget per process carries it; every `LiveChart` points at that
widget, and the browser imports the bundle once per page (cached on `globalThis` by `version`).
"""

from __future__ import annotations

import hashlib
import os
import threading

import anywidget
import traitlets

__all__ = ["VegaRuntime", "bundle_version", "javascript_bundle", "runtime"]

# Export vegaEmbed besides setting the global, so a page never depends on whichever copy of
# `window.vegaEmbed` was loaded last. (vl-convert 1.9 binds `vega` and `vegaLite` to null in
# snippets; the front end takes what it needs from the view: `view.changeset()`.)
_SNIPPET = """\
window.vegaEmbed = vegaEmbed;
export { vegaEmbed };
"""

_bundle_lock = threading.Lock()
_bundle: tuple[str, str] | None = None  # (code, version)

_runtime_lock = threading.Lock()
_runtime: VegaRuntime | None = None
_runtime_pid: int | None = None


def _load_bundle() -> tuple[str, str]:
    global _bundle
    with _bundle_lock:
        if _bundle is None:
            import vl_convert  # about a second to build the bundle: only when a chart needs it

            code = vl_convert.javascript_bundle(_SNIPPET)
            digest = hashlib.sha256(code.encode()).hexdigest()[:16]
            _bundle = (code, f"vega-bundle-{digest}")
        return _bundle


def javascript_bundle() -> str:
    """The Vega + Vega-Lite + vega-embed ES module (built on first use, then cached)."""
    return _load_bundle()[0]


def bundle_version() -> str:
    """A key naming this exact bundle, so the browser loads each distinct bundle only once."""
    return _load_bundle()[1]


class VegaRuntime(anywidget.AnyWidget):
    """A hidden widget that carries the Vega bundle to the front end; one per kernel, shared."""

    _esm = """
export default {
  render({ el }) {
    el.style.display = "none";
  },
};
"""
    #: The ES module text; `LiveChart`'s front end imports it from a Blob URL.
    bundle = traitlets.Unicode("").tag(sync=True)
    #: Cache key for `bundle` in the page (`globalThis`).
    version = traitlets.Unicode("").tag(sync=True)

    def __repr__(self) -> str:
        return f"VegaRuntime(version={self.version!r}, size={len(self.bundle)})"


def runtime() -> VegaRuntime:
    """The process's one `VegaRuntime`, created on first use (again if it was closed or forked)."""
    global _runtime, _runtime_pid
    with _runtime_lock:
        current = _runtime
        if current is None or current.comm is None or _runtime_pid != os.getpid():
            code, version = _load_bundle()
            current = VegaRuntime(bundle=code, version=version)
            _runtime, _runtime_pid = current, os.getpid()
        return current
