"""Hypothesis: random init entries of every shape, random action arguments, every target.

Each example fans :func:`helpers.echo` (which returns the arguments it got) out over a random list
of entries: scalars, lists, tuples, dicts with identifier keys and ``(sequence, dict)`` pairs,
with random positional and keyword arguments given to the action.
"""

import copy

import helpers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchkit import parallel

scalars = st.one_of(st.integers(-1000, 1000), st.text("ab é😀", max_size=3), st.none(), st.booleans())
#: identifiers: a letter or underscore, then letters, digits and underscores
keys = st.builds(str.__add__, st.sampled_from("abxyz_"), st.text("abxyz_09", max_size=5))
keywords = st.dictionaries(keys, scalars, max_size=3)
positionals = st.lists(scalars, max_size=4)

entries = st.one_of(
    scalars,
    positionals,
    positionals.map(tuple),
    keywords,
    st.tuples(positionals, keywords),
    st.tuples(positionals.map(tuple), keywords),
)

cases = st.tuples(
    st.lists(entries, max_size=12),
    st.lists(st.integers(-1000, 1000), max_size=3),
    keywords,
)


def examples(target: str) -> int:
    """Fewer examples on mpc, whose calls cross a process boundary."""
    return 20 if target == "mpc" else 50


def fan_out(target, init_entries, args, kwargs):
    """Run echo over ``init_entries`` on ``target`` with the action's ``args`` and ``kwargs``."""
    action = parallel(init=lambda *a, **k: init_entries, target=target)(helpers.echo)
    return action(*args, **kwargs)


def spec_call(entry, args, kwargs):
    """The (positional, keyword) arguments the spec says one entry's call gets."""
    if isinstance(entry, dict):
        own_args, own_kwargs = (), entry
    elif (
        isinstance(entry, tuple)
        and len(entry) == 2
        and isinstance(entry[0], (list, tuple))
        and isinstance(entry[1], dict)
    ):
        own_args, own_kwargs = tuple(entry[0]), entry[1]
    elif isinstance(entry, (list, tuple)):
        own_args, own_kwargs = tuple(entry), {}
    else:
        own_args, own_kwargs = (entry,), {}
    return own_args + tuple(args), {**own_kwargs, **kwargs}


def checked(target, test, max_examples=None):
    """``test`` as a hypothesis test with this target's example count (or ``max_examples``), run now."""
    return settings(
        max_examples=max_examples or examples(target),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )(given(case=cases)(test))()


def test_target_matches_for(target):
    """Every target gives exactly the ``for`` result for random entries and action arguments."""

    def check(case):
        init_entries, args, kwargs = case
        assert fan_out(target, init_entries, args, kwargs) == fan_out("for", init_entries, args, kwargs)

    checked(target, check)


def test_for_matches_the_spec():
    """The ``for`` reference calls the function with the arguments the spec derives from each entry."""

    def check(case):
        init_entries, args, kwargs = case
        expected = [spec_call(entry, args, kwargs) for entry in init_entries]
        assert fan_out("for", init_entries, args, kwargs) == expected

    checked("for", check)


def test_entries_are_never_mutated(target):
    """No target changes the entries that init returned, whatever the action's keyword arguments."""

    def check(case):
        init_entries, args, kwargs = case
        before = copy.deepcopy(init_entries)
        fan_out(target, init_entries, args, kwargs)
        assert init_entries == before

    checked(target, check, max_examples=20)
