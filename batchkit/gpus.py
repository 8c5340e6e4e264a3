"""Choosing the GPUs a process sees: batchflow's ``set_gpus`` and ``get_available_gpus``.

Free GPUs are read from ``nvidia-smi`` (free memory and processes per GPU); the choice is made
visible through ``CUDA_VISIBLE_DEVICES``, which CUDA reads once, when a framework (torch,
tensorflow, cupy, numba.cuda) first touches the GPU: call `set_gpus` before that.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from numbers import Integral

__all__ = ["get_available_gpus", "set_gpus"]

_TIMEOUT = 30


def _smi(*query: str) -> list[list[str]]:
    """Rows of ``nvidia-smi --query-...`` in CSV, without header or units."""
    command = [shutil.which("nvidia-smi") or "nvidia-smi", *query, "--format=csv,noheader,nounits"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT, check=True)
    return [[cell.strip() for cell in line.split(",")] for line in result.stdout.splitlines() if line.strip()]


def _gpus() -> list[dict]:
    """Each GPU's index, free and total memory (MiB), and how many compute processes it runs."""
    rows = _smi("--query-gpu=index,uuid,memory.free,memory.total")
    busy: dict[str, int] = {}
    for row in _smi("--query-compute-apps=gpu_uuid,pid"):
        busy[row[0]] = busy.get(row[0], 0) + 1
    return [
        {"index": int(index), "free": float(free), "total": float(total), "processes": busy.get(uuid, 0)}
        for index, uuid, free, total in rows
    ]


def get_available_gpus(n=1, min_free_memory=0.9, max_processes=2, *, verbose=False, raise_error=False):
    """The indices of up to ``n`` GPUs with enough free memory and few enough processes.

    Parameters
    ----------
    n : int or "max"
        How many GPUs to pick ("max": every one that qualifies), most free memory first.
    min_free_memory : float
        The free memory a GPU needs: a share of its total when at most 1, else MiB.
    max_processes : int
        At most this many compute processes already on the GPU.
    verbose : bool
        Print what was found.
    raise_error : bool
        Raise ``RuntimeError`` when fewer than ``n`` GPUs qualify (or there is no
        ``nvidia-smi``); otherwise warn and return what there is.

    Returns
    -------
    list of int
    """
    try:
        gpus = _gpus()
    except (OSError, subprocess.SubprocessError, ValueError) as why:
        message = f"cannot list the GPUs: nvidia-smi failed or is missing ({type(why).__name__}: {why})"
        if raise_error:
            raise RuntimeError(message) from why
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return []

    def enough(gpu):
        need = min_free_memory * gpu["total"] if min_free_memory <= 1 else min_free_memory
        return gpu["free"] >= need and gpu["processes"] <= max_processes

    chosen = sorted((gpu for gpu in gpus if enough(gpu)), key=lambda gpu: -gpu["free"])
    wanted = len(chosen) if n == "max" else n
    if verbose:
        for gpu in gpus:
            print(
                f"GPU {gpu['index']}: {gpu['free']:.0f} of {gpu['total']:.0f} MiB free, "
                f"{gpu['processes']} processes"
            )
    if len(chosen) < wanted:
        message = f"{len(chosen)} of {len(gpus)} GPUs are free enough; {wanted} asked for"
        if raise_error:
            raise RuntimeError(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    return [gpu["index"] for gpu in chosen[:wanted]]


def set_gpus(n=1, min_free_memory=0.9, max_processes=2, *, verbose=False, raise_error=False):
    """Make only the chosen GPUs visible to this process (and the processes it starts).

    Parameters
    ----------
    n : int, "max" or a sequence of int
        How many free GPUs to pick (see `get_available_gpus`), or the GPU indices themselves.
    min_free_memory, max_processes, verbose, raise_error
        As for `get_available_gpus`.

    Returns
    -------
    list of int
        The GPUs now visible. With none found (and no ``raise_error``), ``CUDA_VISIBLE_DEVICES``
        is left as it was.

    Examples
    --------
    >>> import os
    >>> from batchkit import set_gpus
    >>> before = os.environ.get("CUDA_VISIBLE_DEVICES")
    >>> set_gpus([1, 0])
    [1, 0]
    >>> os.environ["CUDA_VISIBLE_DEVICES"]
    '1,0'
    >>> _ = os.environ.pop("CUDA_VISIBLE_DEVICES") if before is None else None
    """
    if isinstance(n, (list, tuple)):
        if not all(isinstance(index, Integral) and not isinstance(index, bool) and index >= 0 for index in n):
            raise ValueError(f"set_gpus takes GPU indices as non-negative ints (got {n!r})")
        chosen = [int(index) for index in n]
    elif n == "max" or (isinstance(n, Integral) and not isinstance(n, bool) and n >= 1):
        chosen = get_available_gpus(
            n, min_free_memory, max_processes, verbose=verbose, raise_error=raise_error
        )
        if not chosen:
            return []
    else:
        raise ValueError(f"set_gpus takes a positive int, 'max' or a list of GPU indices (got {n!r})")
    torch = sys.modules.get("torch")
    if torch is not None and getattr(getattr(torch, "cuda", None), "is_initialized", lambda: False)():
        warnings.warn(
            "torch has already started CUDA: the GPUs it sees no longer change; call set_gpus first",
            RuntimeWarning,
            stacklevel=2,
        )
    os.environ["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"  # the indices nvidia-smi shows
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, chosen))
    if verbose:
        print(f"CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']}")
    return chosen
