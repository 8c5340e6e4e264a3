"""@action: direct calls, metadata, stacking over @inbatch_parallel, and use_lock."""

import threading
import time

import numpy as np
import pytest

from batchkit import Batch, action, inbatch_parallel

JOIN_TIMEOUT = 10  # seconds: only reached when a call hangs
HANG_TIMEOUT = 2  # seconds: how long a call that should return at once may take to be declared hung


class Overlap:
    """Counts how many callers are inside a section at once, and the most ever seen."""

    def __init__(self):
        self._guard = threading.Lock()
        self.inside = 0
        self.most = 0

    def __enter__(self):
        with self._guard:
            self.inside += 1
            self.most = max(self.most, self.inside)

    def __exit__(self, *exc_info):
        with self._guard:
            self.inside -= 1


def run_in_threads(functions):
    """Start one thread per function, join them all; return the threads still alive (hung)."""
    threads = [threading.Thread(target=fn, daemon=True) for fn in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    return [thread for thread in threads if thread.is_alive()]


class Plain(Batch):
    components = ("values",)

    @action
    def scaled(self, factor):
        """Multiply the batch's length by ``factor``."""
        return len(self) * factor

    @action(no_eval="expr")
    def lazy(self, expr=None):
        return expr

    @action
    @inbatch_parallel(init="indices", post="_collect", target="threads")
    def squares(self, ix, offset):
        return ix * ix + offset

    def _collect(self, results, *args, **kwargs):
        return results


def test_action_is_callable_directly_and_returns_its_value():
    """A method decorated with ``@action`` can be called directly and returns the method's value."""
    assert Plain(np.arange(4)).scaled(3) == 12


def test_action_keeps_name_and_docstring():
    """``@action`` keeps the method's name and docstring."""
    assert Plain.scaled.__name__ == "scaled"
    assert Plain.scaled.__doc__ == "Multiply the batch's length by ``factor``."


def test_action_metadata_on_the_class():
    """The decorated method carries an ``action`` dict with the method, its lock name and no_eval."""
    meta = Plain.scaled.action
    assert meta["method"].__name__ == "scaled"
    assert meta["use_lock"] is None
    assert meta["no_eval"] == []


def test_action_metadata_through_an_instance():
    """The ``action`` metadata is also readable from the bound method of an instance."""
    assert Plain(np.arange(2)).scaled.action is Plain.scaled.action


def test_action_no_eval_string_becomes_a_list():
    """``no_eval="name"`` is recorded as a one-element list in the metadata."""
    assert Plain.lazy.action["no_eval"] == ["expr"]


def test_action_over_inbatch_parallel():
    """``@action`` stacked above ``@inbatch_parallel`` runs the parallel method and returns post's result."""
    assert Plain(np.arange(10, 14)).squares(1) == [101, 122, 145, 170]


def test_use_lock_true_serialises_concurrent_calls():
    """With ``use_lock=True`` calls from several threads never run the body at the same time."""
    overlap = Overlap()

    class Locked(Batch):
        @action(use_lock=True)
        def work(self):
            with overlap:
                time.sleep(0.005)

    batch = Locked(np.arange(1))
    assert run_in_threads([batch.work] * 6) == []
    assert overlap.most == 1


def test_use_lock_true_is_shared_by_batches_of_the_class():
    """With ``use_lock=True`` calls on different batches of one class are serialised too."""
    overlap = Overlap()

    class Locked(Batch):
        @action(use_lock=True)
        def work(self):
            with overlap:
                time.sleep(0.005)

    assert run_in_threads([Locked(np.arange(1)).work for _ in range(6)]) == []
    assert overlap.most == 1


def test_without_lock_calls_overlap():
    """Without ``use_lock`` two threads are inside the action at the same time."""
    barrier = threading.Barrier(2, timeout=JOIN_TIMEOUT)
    passed = []

    class Free(Batch):
        @action
        def work(self):
            barrier.wait()  # raises BrokenBarrierError if the other call cannot get in
            passed.append(True)

    batch = Free(np.arange(1))
    assert run_in_threads([batch.work, batch.work]) == []
    assert passed == [True, True]


def test_use_lock_false_takes_no_lock():
    """``use_lock=False`` takes no lock: two threads are inside the action at the same time."""
    barrier = threading.Barrier(2, timeout=JOIN_TIMEOUT)
    passed = []

    class Free(Batch):
        @action(use_lock=False)
        def work(self):
            barrier.wait()
            passed.append(True)

    batch = Free(np.arange(1))
    assert run_in_threads([batch.work, batch.work]) == []
    assert passed == [True, True]
    assert Free.work.action["use_lock"] is None


def test_lock_released_when_action_raises():
    """After a locked action raises, a call from another thread gets the lock (it does not hang)."""

    class Failing(Batch):
        @action(use_lock=True)
        def work(self, fail):
            if fail:
                raise RuntimeError("boom")
            return "done"

    batch = Failing(np.arange(1))
    with pytest.raises(RuntimeError, match="boom"):
        batch.work(True)
    got = []
    assert run_in_threads([lambda: got.append(batch.work(False))]) == []
    assert got == ["done"]


def test_named_lock_is_shared_between_actions():
    """Two different actions with the same ``use_lock="name"`` never run at the same time."""
    overlap = Overlap()

    class Shared(Batch):
        @action(use_lock="test_action:shared-lock")
        def first(self):
            with overlap:
                time.sleep(0.005)

        @action(use_lock="test_action:shared-lock")
        def second(self):
            with overlap:
                time.sleep(0.005)

    batch = Shared(np.arange(1))
    assert run_in_threads([batch.first, batch.second] * 3) == []
    assert overlap.most == 1


def test_named_lock_recorded_in_metadata():
    """``use_lock="name"`` is recorded as the lock name in the action metadata."""

    class Named(Batch):
        @action(use_lock="test_action:recorded")
        def work(self):
            return None

    assert Named.work.action["use_lock"] == "test_action:recorded"


def test_locked_action_may_reenter_in_the_same_thread():
    """A locked action that calls itself in the same thread does not deadlock (the lock is reentrant)."""
    got = []

    class Recursive(Batch):
        @action(use_lock=True)
        def depth(self, n):
            return 0 if n == 0 else 1 + self.depth(n - 1)

    batch = Recursive(np.arange(1))
    assert run_in_threads([lambda: got.append(batch.depth(3))]) == []
    assert got == [3]


def make_locked_class(module, release):
    """A class ``Locked`` of module ``module`` whose ``work`` action (use_lock=True) waits for ``release``."""

    def work(self, entered=None):
        if entered is not None:
            entered.set()
        release.wait(JOIN_TIMEOUT)
        return module

    work.__module__ = module
    work.__qualname__ = "Locked.work"
    namespace = {"__module__": module, "__qualname__": "Locked", "work": action(use_lock=True)(work)}
    return type("Locked", (Batch,), namespace)


def test_use_lock_true_not_shared_by_same_named_actions_of_other_modules():
    """``use_lock=True`` locks only this action: a same-named class of another module does not wait for it."""
    entered, release, released = threading.Event(), threading.Event(), threading.Event()
    released.set()
    first = make_locked_class("test_action_module_a", release)(np.arange(1))
    second = make_locked_class("test_action_module_b", released)(np.arange(1))
    holder = threading.Thread(target=first.work, args=(entered,), daemon=True)
    holder.start()
    try:
        assert entered.wait(JOIN_TIMEOUT)
        got = []
        other = threading.Thread(target=lambda: got.append(second.work()), daemon=True)
        other.start()
        other.join(HANG_TIMEOUT)  # returns at once unless `second` waits for `first`'s lock
        assert got == ["test_action_module_b"]
    finally:
        release.set()
        holder.join(JOIN_TIMEOUT)


@pytest.mark.parametrize("use_lock", [1, 2.5, ["name"], object()])
def test_bad_use_lock_type_raises_type_error(use_lock):
    """A ``use_lock`` that is neither a bool nor a str raises TypeError."""
    with pytest.raises(TypeError, match="use_lock"):
        action(use_lock=use_lock)(lambda self: None)
