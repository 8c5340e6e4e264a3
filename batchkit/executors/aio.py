"""The ``async`` target: coroutines run concurrently on a private event loop thread."""

from __future__ import annotations

import asyncio
import inspect
import threading
from concurrent.futures import Future

from .._calls import Calls, Outcomes
from ..errors import ItemTimeout
from ._base import Executor, RunOptions

__all__ = ["AsyncExecutor"]


async def _run_all(fn, calls: Calls, outcomes: Outcomes, options: RunOptions) -> None:
    """Start every call, await what they return, and store each outcome in its slot."""
    if options.n_workers or options.timeout is not None or options.fail_fast:
        await _run_watched(fn, calls, outcomes, options)
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


class _Watched:
    """One call's items run with a concurrency cap, a per-item timeout and/or fail_fast.

    With ``fail_fast``, the first failure cancels the items still awaiting; their slots stay
    unfilled and become `ItemCancelled` once the call settles.
    """

    def __init__(self, fn, calls: Calls, outcomes: Outcomes, options: RunOptions):
        self.fn, self.calls, self.outcomes = fn, calls, outcomes
        self.timeout = options.timeout
        self.limit = asyncio.Semaphore(options.n_workers) if options.n_workers else None
        self.tasks: dict[int, asyncio.Task] = {}

    async def one(self, position: int) -> None:
        if self.limit is None:
            await self._run(position)
        else:
            async with self.limit:
                await self._run(position)

    async def _run(self, position: int) -> None:
        calls = self.calls
        if calls.cancel.requested:
            return
        try:
            args, kwargs = calls.bind(position)
            value = self.fn(*args, **kwargs)
            if inspect.isawaitable(value):
                value = await (value if self.timeout is None else self._within_timeout(value))
        except _Expired:
            self._fail(position, _timed_out(self.timeout))
        except Exception as exc:
            self._fail(position, exc)
        else:
            self.outcomes.values[position] = value
        _report(calls)

    async def _within_timeout(self, awaitable):
        """Await the item in this task, cancelling it when the timeout expires.

        A timer on the running task costs far less than ``asyncio.wait_for``, which wraps each
        item in a task of its own. A cancel that did not come from the timer (fail_fast, Ctrl-C)
        propagates as it is.
        """
        task = asyncio.current_task()
        expired: list = []
        timer = asyncio.get_running_loop().call_later(self.timeout, _expire, task, expired)
        try:
            return await awaitable
        except asyncio.CancelledError:
            if expired and task.uncancel() == 0:
                raise _Expired from None
            raise
        finally:
            timer.cancel()

    def _fail(self, position: int, error: BaseException) -> None:
        self.outcomes.fail(position, error)
        if self.calls.fail_fast and not self.calls.cancel.requested:
            self.calls.cancel.request()
            current = asyncio.current_task()
            for task in self.tasks.values():
                if task is not current:
                    task.cancel()


class _Expired(Exception):
    """The item's timer cancelled it (told apart from any other cancel)."""


def _expire(task: asyncio.Task, expired: list) -> None:
    expired.append(True)
    task.cancel()


def _timed_out(timeout: float) -> ItemTimeout:
    return ItemTimeout(
        f"the item ran longer than the timeout of {timeout:g} s and was cancelled (target='async')",
        timeout,
    )


async def _run_watched(fn, calls: Calls, outcomes: Outcomes, options: RunOptions) -> None:
    """As `_run_all`, with the limits of ``options``."""
    watched = _Watched(fn, calls, outcomes, options)
    watched.tasks = {i: asyncio.ensure_future(watched.one(i)) for i in range(len(calls))}
    try:
        # a task cancelled by fail_fast ends with CancelledError: gathered as a value, not raised
        await asyncio.gather(*watched.tasks.values(), return_exceptions=True)
    except BaseException:  # the whole call was cancelled (Ctrl-C in the caller)
        for task in watched.tasks.values():
            task.cancel()
        raise


class AsyncExecutor(Executor):
    """Runs coroutine calls concurrently (``target="async"``).

    The coroutines run on an event loop that batchkit keeps in a thread of its own, so an
    async action can be called from anywhere: a script, a worker thread, or code that already
    runs an event loop (Jupyter, an ``async def`` caller), which blocks until the action ends.
    ``n_workers`` caps how many coroutines of one call run at once (unlimited by default).
    A ``timeout`` cancels an item's coroutine when it runs past the limit (it must reach an
    ``await``: a coroutine that blocks the loop cannot be interrupted); ``fail_fast`` cancels
    the items still running after the first failure.

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
                    asyncio.run(_run_all(fn, calls, outcomes, options))
                    done.set_result(None)
                except BaseException as exc:  # handed to the waiting caller below
                    done.set_exception(exc)

            threading.Thread(target=run_apart, name="batchkit-async-nested").start()
            done.result()
            return outcomes
        future = asyncio.run_coroutine_threadsafe(_run_all(fn, calls, outcomes, options), loop)
        try:
            future.result()
        except BaseException:
            # Ctrl-C in the caller: no item starts after this, and the running ones are cancelled
            calls.cancel.request()
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
