"""The ``async`` target: coroutines run concurrently on a private event loop thread."""

from __future__ import annotations

import asyncio
import inspect
import threading
from concurrent.futures import Future

from .._calls import Calls, Outcomes
from ._base import Executor, RunOptions

__all__ = ["AsyncExecutor"]


async def _run_all(fn, calls: Calls, outcomes: Outcomes, n_workers: int | None) -> None:
    """Start every call, await what they return, and store each outcome in its slot."""
    if n_workers:
        await _run_limited(fn, calls, outcomes, n_workers)
        return
    loop = asyncio.get_running_loop()
    tasks = {}
    for position in range(len(calls)):
        try:
            args, kwargs = calls.bind(position)
            value = fn(*args, **kwargs)
        except Exception as exc:
            outcomes.fail(position, exc)
            _report(calls)
            continue
        if inspect.iscoroutine(value) or inspect.isawaitable(value):
            # A task per awaitable (not a wrapper coroutine per item): the cheapest way to run
            # them concurrently and still tell a raised exception from a returned one.
            tasks[position] = asyncio.ensure_future(value, loop=loop)
        else:
            outcomes.values[position] = value
            _report(calls)
    if not tasks:
        return
    if calls.progress is not None:
        for task in tasks.values():
            task.add_done_callback(lambda _task: calls.progress(1))
    try:
        await asyncio.wait(tasks.values())
    except BaseException:  # cancelled (Ctrl-C in the caller): cancel what still runs
        for task in tasks.values():
            task.cancel()
        raise
    for position, task in tasks.items():
        error = task.exception()  # raises CancelledError if the task was cancelled: propagate
        if error is None:
            outcomes.values[position] = task.result()
        elif isinstance(error, Exception):
            outcomes.fail(position, error)
        else:
            raise error


def _report(calls: Calls) -> None:
    if calls.progress is not None:
        calls.progress(1)


async def _run_limited(fn, calls: Calls, outcomes: Outcomes, n_workers: int) -> None:
    """As `_run_all`, with at most ``n_workers`` calls running at once."""
    limit = asyncio.Semaphore(n_workers)

    async def one(position: int) -> None:
        async with limit:
            try:
                args, kwargs = calls.bind(position)
                value = fn(*args, **kwargs)
                if inspect.isawaitable(value):
                    value = await value
                outcomes.values[position] = value
            except Exception as exc:
                outcomes.fail(position, exc)
        _report(calls)

    await asyncio.gather(*(one(i) for i in range(len(calls))))


class AsyncExecutor(Executor):
    """Runs coroutine calls concurrently (``target="async"``).

    The coroutines run on an event loop that batchkit keeps in a thread of its own, so an
    async action can be called from anywhere: a script, a worker thread, or code that already
    runs an event loop (Jupyter, an ``async def`` caller), which blocks until the action ends.
    ``n_workers`` caps how many coroutines of one call run at once (unlimited by default).

    A call that returns something other than an awaitable is taken as its result.
    """

    name = "async"
    runs_coroutines = True

    def __init__(self):
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                started = threading.Event()

                def serve():
                    asyncio.set_event_loop(loop)
                    loop.call_soon(started.set)
                    loop.run_forever()

                thread = threading.Thread(target=serve, name="batchkit-async", daemon=True)
                thread.start()
                started.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(self, fn, calls: Calls, options: RunOptions) -> Outcomes:
        n_workers = options.n_workers
        outcomes = Outcomes(len(calls))
        if len(calls) == 0:
            return outcomes
        loop = self._ensure_loop()
        if threading.current_thread() is self._thread:
            # Called from a coroutine running on our own loop: that loop cannot wait for itself,
            # so this call gets a loop of its own in a helper thread.
            done: Future = Future()

            def run_apart():
                try:
                    asyncio.run(_run_all(fn, calls, outcomes, n_workers))
                    done.set_result(None)
                except BaseException as exc:  # handed to the waiting caller below
                    done.set_exception(exc)

            threading.Thread(target=run_apart, name="batchkit-async-nested").start()
            done.result()
            return outcomes
        future = asyncio.run_coroutine_threadsafe(_run_all(fn, calls, outcomes, n_workers), loop)
        try:
            future.result()
        except BaseException:
            future.cancel()
            raise
        return outcomes

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            if not loop.is_running():
                loop.close()
