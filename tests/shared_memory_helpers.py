"""What the shared-memory tests share: a fan-out over row numbers and two module-level row functions."""

from batchkit import parallel

ROWS, WIDTH = 8, 1 << 15  # 8 rows of 256 KiB: 2 MiB, above the threshold; a row alone is below


def keep(results, *args, **kwargs):
    return results


def fan(fn, n, target="mpc"):
    """``fn(i, *args)`` for i in range(n), on ``target`` with two workers; the results list."""
    return parallel(init=lambda *a, **k: list(range(n)), post=keep, target=target, n_workers=2)(fn)


def fill_row(i, out):
    out[i] = i + 1
    return float(out[i].sum())


def row_sum(i, data):
    return float(data[i].sum())
