"""Hypothesis: random sets of failing items, with and without fail_fast, on every target.

Without fail_fast every target must give exactly the ``for`` reference's outcomes. With it,
items may run concurrently, so a target may finish a few more items than ``for`` does; what
must hold everywhere: each slot is the right value, the item's own failure, or ItemCancelled;
the failures are real bad items; nothing is lost.
"""

import fault_items
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchkit import ItemCancelled, parallel

#: (number of items, the positions that fail)
cases = st.integers(1, 40).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1))))
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def keep(results, *args, **kwargs):
    return results


def fan_out(target, n, bad, **options):
    fn = fault_items.for_target("fail_in", target)
    action = parallel(init=lambda *a, **k: list(range(n)), post=keep, target=target, n_workers=2)(fn)
    return action(frozenset(bad), **options)


def examples(target: str) -> int:
    return 15 if target == "mpc" else 40


def test_failures_match_the_reference_exactly(target):
    """Without fail_fast: the same values, the same failed positions, nothing cancelled."""

    @settings(max_examples=examples(target), **SETTINGS)
    @given(cases)
    def check(case):
        n, bad = case
        results, reference = fan_out(target, n, bad), fan_out("for", n, bad)
        assert results.failed_positions == reference.failed_positions == sorted(bad)
        assert results.cancelled_positions == []
        assert [r if i not in bad else str(r) for i, r in enumerate(results)] == [
            r if i not in bad else str(r) for i, r in enumerate(reference)
        ]

    check()


def test_fail_fast_accounts_for_every_item(target):
    """With fail_fast: every slot is its value, its own failure, or ItemCancelled, never lost."""

    @settings(max_examples=examples(target), **SETTINGS)
    @given(cases)
    def check(case):
        n, bad = case
        results = fan_out(target, n, bad, fail_fast=True)
        failed, cancelled = set(results.failed_positions), set(results.cancelled_positions)
        assert failed <= bad and not failed & cancelled
        assert bool(failed) == bool(bad)  # a bad item among those run always fails the call
        for i, value in enumerate(results):
            if i in failed:
                assert isinstance(value, ValueError)
            elif i in cancelled:
                assert isinstance(value, ItemCancelled)
            else:
                assert value == i * 10

    check()


def test_fail_fast_on_for_stops_right_after_the_first_failure():
    """The reference: on ``for``, exactly the items after the first bad one are cancelled."""

    @settings(max_examples=60, deadline=None)
    @given(cases)
    def check(case):
        n, bad = case
        results = fan_out("for", n, bad, fail_fast=True)
        if not bad:
            assert results.cancelled_positions == [] and results.failed_positions == []
            return
        first = min(bad)
        assert results.failed_positions == [first]
        assert results.cancelled_positions == list(range(first + 1, n))

    check()
