"""A pool of daemon threads that grows on demand: what the ``threads`` target runs on.

``concurrent.futures.ThreadPoolExecutor`` joins its threads when the interpreter exits, so one
item stuck in a thread (given up after a ``timeout``, or still running when Ctrl-C arrived)
would keep the process from exiting. These threads are daemons: the process exits at once,
and an item left running ends with it.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

__all__ = ["DaemonThreadPool"]


def _serve(pool: DaemonThreadPool) -> None:
    """One thread of the pool: take tasks until told to stop (a None task)."""
    tasks = pool._tasks
    while True:
        with pool._lock:
            pool._idle += 1
        task = tasks.get()
        with pool._lock:
            pool._idle -= 1
            pool._queued -= 1
        if task is None:
            return
        future, fn, args = task
        if not future.set_running_or_notify_cancel():
            continue
        try:
            result = fn(*args)
        except BaseException as exc:  # handed to whoever waits on the future
            future.set_exception(exc)
        else:
            future.set_result(result)
        del future, fn, args, task  # keep nothing of a finished task while idle


class DaemonThreadPool:
    """Daemon threads taking tasks from one queue.

    A task never waits for a busy thread: when no thread is idle, ``submit`` starts one, so a
    thread stuck in a long item never delays the next task. Threads are kept (idle) for later
    calls; ``shutdown`` lets them end.
    """

    def __init__(self, name: str):
        self.name = name
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for a task
        self._queued = 0  # tasks not yet taken
        self._started = 0

    @property
    def size(self) -> int:
        """How many threads have been started."""
        return self._started

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        with self._lock:
            self._queued += 1
            # decided under the lock that the threads take tasks under, so no task is left
            # waiting while every thread is busy
            start = self._idle < self._queued
            if start:
                self._started += 1
                number = self._started
        if start:
            threading.Thread(target=_serve, args=(self,), name=f"{self.name}-{number}", daemon=True).start()
        self._tasks.put((future, fn, args))
        return future

    def shutdown(self) -> None:
        """Let every idle thread end; busy ones end after their task."""
        with self._lock:
            count, self._started = self._started, 0
            self._queued += count
        for _ in range(count):
            self._tasks.put(None)
