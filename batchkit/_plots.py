"""matplotlib, on demand: imported when a picture is asked for, with an install hint when it is missing."""

from __future__ import annotations

__all__ = ["pyplot"]


def pyplot():
    """``matplotlib.pyplot``, or an ImportError that says how to get it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as why:
        raise ImportError(
            "drawing needs matplotlib, which is not installed: pip install matplotlib "
            "(or install this package with its 'plot' extra)"
        ) from why
    return plt
