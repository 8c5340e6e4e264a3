"""RunOptions: the per-call settings every executor receives."""

import pytest

from batchkit import parallel
from batchkit._parallel import RESERVED
from batchkit.executors import RunOptions, get_executor


def test_every_option_is_a_reserved_call_keyword():
    """Each RunOptions field is reserved, so a call can set it and a method cannot take it."""
    assert RunOptions.names() | {"target"} == RESERVED


def test_updated_ignores_settings_given_as_none():
    """updated() changes the settings given a value and keeps the others."""
    options = RunOptions(n_workers=3)
    assert options.updated(n_workers=None) == options and options.updated(n_workers=2).n_workers == 2


@pytest.mark.parametrize("bad", [0, -1000, True, 1.5, "2"])
def test_invalid_n_workers_is_refused(bad):
    """A zero, non-integer or too negative n_workers is refused with ValueError naming it."""
    with pytest.raises(ValueError, match="n_workers"):
        RunOptions(n_workers=bad)


def test_decorator_and_call_settings_reach_the_executor(monkeypatch):
    """The decorator's n_workers is the default and a call's n_workers overrides it."""
    executor = get_executor("for")
    seen = []
    original = executor.run

    def spy(fn, calls, options):
        seen.append(options)
        return original(fn, calls, options)

    monkeypatch.setattr(executor, "run", spy)
    action = parallel(init=lambda: [1, 2], target="for", n_workers=3)(abs)
    action()
    action(n_workers=1)
    assert [options.n_workers for options in seen] == [3, 1]
