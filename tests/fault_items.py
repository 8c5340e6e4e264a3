"""Module-level item functions for the reliability tests (mpc pickles them by reference).

Each has a coroutine twin with the same name and an ``async_`` prefix: on ``target="async"`` a
plain function runs in the event loop's thread and could not be timed out or cancelled.
"""

import asyncio
import time


def stuck_at(x, stuck, seconds=30.0):
    """Return ``x``; the item ``x == stuck`` first sleeps ``seconds`` (a stuck item)."""
    if x == stuck:
        time.sleep(seconds)
    return x


async def async_stuck_at(x, stuck, seconds=30.0):
    if x == stuck:
        await asyncio.sleep(seconds)
    return x


def fail_at(x, bad, delay=0.0):
    """Return ``x`` after ``delay`` seconds; the item ``x == bad`` raises ValueError at once."""
    if x == bad:
        raise ValueError(f"item {x} is bad")
    time.sleep(delay)
    return x


async def async_fail_at(x, bad, delay=0.0):
    if x == bad:
        raise ValueError(f"item {x} is bad")
    await asyncio.sleep(delay)
    return x


def raise_timeout_error(x):
    """An item whose own failure is a TimeoutError (not batchkit's timeout)."""
    raise TimeoutError(f"the item's own timeout ({x})")


async def async_raise_timeout_error(x):
    raise TimeoutError(f"the item's own timeout ({x})")


def for_target(name: str, target: str):
    """The function ``name`` of this module, as written for ``target``."""
    return globals()[f"async_{name}" if target == "async" else name]


def fail_in(x, bad):
    """Return ``x * 10``; raise ValueError for the items listed in ``bad``."""
    if x in bad:
        raise ValueError(f"item {x} is bad")
    return x * 10


async def async_fail_in(x, bad):
    if x in bad:
        raise ValueError(f"item {x} is bad")
    return x * 10
