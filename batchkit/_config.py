"""Process-wide settings: ``batchkit.config(client=...)``, for a ``with`` block or from now on.

One setting so far, the dask client that ``target="dask"`` and ``pipeline.run(..., client=True)``
use. The client in force is chosen in one place, `batchkit.executors._dask_client.resolve_client`:
an explicit argument, else this setting, else dask's current default client, else a local
cluster that batchkit starts. Nothing here imports dask.
"""

from __future__ import annotations

import threading

__all__ = ["config", "configured_client"]

_UNSET = object()
_LOCK = threading.Lock()
#: the settings in force; process-wide, so that every thread (prefetch, pools) sees the same
_SETTINGS: dict = {"client": None}


def _check_client(client) -> None:
    # Duck-typed, so that checking a value never imports dask: a dask Client submits and scatters.
    if client is None or (hasattr(client, "submit") and hasattr(client, "scatter")):
        return
    raise TypeError(f"'client' must be a dask.distributed Client or None (got {client!r})")


def configured_client():
    """The client set by `config`, or None."""
    return _SETTINGS["client"]


class config:
    """Set batchkit's settings: in a ``with`` block, or, called plainly, from now on.

    Settings are process-wide. Leaving the ``with`` block puts back the settings that were in
    force when it was entered.

    Parameters
    ----------
    client : dask.distributed.Client or None, optional
        The client that ``target="dask"`` and ``pipeline.run(..., client=True)`` use. None
        goes back to the default: dask's current client if there is one, else a
        ``LocalCluster`` on 127.0.0.1 that batchkit starts on first use and closes at exit.

    Examples
    --------
    >>> import batchkit
    >>> with batchkit.config(client=None):
    ...     pass
    >>> _ = batchkit.config(client=None)  # a plain call: from now on
    """

    __slots__ = ("_previous",)

    def __init__(self, *, client=_UNSET):
        if client is not _UNSET:
            _check_client(client)
        with _LOCK:
            self._previous = dict(_SETTINGS)
            if client is not _UNSET:
                _SETTINGS["client"] = client

    def __enter__(self) -> config:
        return self

    def __exit__(self, *exc_info) -> None:
        with _LOCK:
            _SETTINGS.clear()
            _SETTINGS.update(self._previous)

    def __repr__(self) -> str:
        return f"batchkit.config(client={_SETTINGS['client']!r})"
