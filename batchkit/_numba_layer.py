"""Several threads may call the same numba ``parallel=True`` kernel without killing the process.

numba runs ``prange`` loops on a threading layer picked at the first parallel launch. Its
fallback layer, ``workqueue``, aborts the whole process (SIGABRT, "Concurrent access has been
detected") when two Python threads launch parallel kernels at once, which is what
``target="threads"`` does. So, before that first launch:

* if the user chose no layer (``NUMBA_THREADING_LAYER`` unset), batchkit asks numba for a
  ``"threadsafe"`` one, OpenMP or TBB, when either can be loaded here;
* if only ``workqueue`` is there (or the user asked for it), batchkit's own parallel kernels
  (``@mjit(parallel=True)``) run one at a time, behind one lock (`serialised`): slower, alive.

A numba kernel called directly (not through ``@mjit``) is covered by the first rule only.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading

__all__ = ["layer_is_threadsafe", "prefer_threadsafe_layer", "serialised"]

_SAFE_POOLS = ("numba.np.ufunc.omppool", "numba.np.ufunc.tbbpool")
_lock = threading.Lock()
_state = {"checked": False, "safe": None}


def _loadable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except Exception:  # the module is there, its runtime library (libgomp, libtbb) is not
        return False
    return True


def prefer_threadsafe_layer() -> None:
    """Ask numba for a threadsafe layer before its first parallel launch, if it has one here."""
    numba = sys.modules.get("numba")
    if numba is None or _state["checked"]:
        return
    with _lock:
        if _state["checked"]:
            return
        _state["checked"] = True
        from numba.np.ufunc import parallel

        if parallel._is_initialized or numba.config.THREADING_LAYER != "default":
            return  # launched already, or the user chose: theirs to keep
        if any(_loadable(module) for module in _SAFE_POOLS):
            numba.config.THREADING_LAYER = "threadsafe"


def layer_is_threadsafe() -> bool:
    """Whether numba's layer (the one chosen, or the one it will choose) takes concurrent launches."""
    numba = sys.modules.get("numba")
    if numba is None:
        return True
    prefer_threadsafe_layer()
    try:
        return numba.threading_layer() != "workqueue"  # launched: the layer in use
    except ValueError:  # not launched yet: what it will pick
        chosen = numba.config.THREADING_LAYER
        if chosen in ("threadsafe", "safe", "omp", "tbb"):
            return True
        if chosen == "workqueue":
            return False
        return any(_loadable(module) for module in _SAFE_POOLS)


_kernel_lock = threading.Lock()
_NO_LOCK = contextlib.nullcontext()


def serialised():
    """A context that runs one parallel kernel at a time when the layer is not threadsafe."""
    safe = _state["safe"]
    if safe is None:
        safe = layer_is_threadsafe()
        launcher = sys.modules.get("numba.np.ufunc.parallel")
        if launcher is not None and launcher._is_initialized:
            _state["safe"] = safe  # launched: the layer cannot change any more
    return _NO_LOCK if safe else _kernel_lock
