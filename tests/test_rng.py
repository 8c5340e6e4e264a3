"""``make_rng`` and ``spawn_rngs``: every usual seed kind gives a numpy Generator."""

import numpy as np
import pytest

from batchkit.rng import make_rng, spawn_rngs


def draws(rng, n=5):
    return rng.integers(0, 1_000_000, size=n).tolist()


def test_none_gives_fresh_generator():
    """``make_rng(None)`` gives a Generator seeded from fresh entropy (two differ)."""
    a, b = make_rng(None), make_rng(None)
    assert isinstance(a, np.random.Generator)
    assert draws(a) != draws(b)


def test_true_gives_fresh_generator():
    """``make_rng(True)`` gives a freshly seeded Generator, like None."""
    assert draws(make_rng(True)) != draws(make_rng(True))


def test_int_seed_is_reproducible():
    """The same int seed gives the same stream; another seed another one."""
    assert draws(make_rng(3)) == draws(make_rng(3))
    assert draws(make_rng(3)) != draws(make_rng(4))


def test_numpy_int_seed_is_accepted():
    """A numpy integer seed works like the same Python int."""
    assert draws(make_rng(np.int64(9))) == draws(make_rng(9))


def test_seed_sequence_is_used():
    """A SeedSequence seeds an SFC64 generator as the same int seed does."""
    assert draws(make_rng(np.random.SeedSequence(11))) == draws(make_rng(11))


def test_bit_generator_is_sfc64():
    """The bit generator is SFC64, batchflow's."""
    assert isinstance(make_rng(0).bit_generator, np.random.SFC64)


@pytest.mark.parametrize(
    ("seed", "n", "expected"),
    [
        (42, 10, [8, 9, 1, 3, 6, 4, 5, 0, 7, 2]),
        (7, 10, [5, 6, 8, 9, 7, 2, 1, 0, 4, 3]),
        (42, 5, [4, 1, 0, 3, 2]),
    ],
)
def test_seeded_permutations_match_batchflow(seed, n, expected):
    """``make_rng(seed).permutation(n)`` gives what batchflow 0.10.1's make_rng gives."""
    assert make_rng(seed).permutation(n).tolist() == expected


def test_generator_is_returned_as_is():
    """A Generator is returned itself, so draws advance the caller's generator."""
    g = np.random.default_rng(0)
    assert make_rng(g) is g


def test_bit_generator_is_wrapped_sharing_state():
    """A BitGenerator is wrapped in a Generator that draws from its state."""
    bits = np.random.PCG64(5)
    assert draws(make_rng(bits)) == draws(np.random.Generator(np.random.PCG64(5)))


def test_random_state_gives_reproducible_generator():
    """A seeded RandomState gives the same Generator stream each time it is seeded the same way."""
    a = make_rng(np.random.RandomState(1))
    b = make_rng(np.random.RandomState(1))
    assert isinstance(a, np.random.Generator)
    assert draws(a) == draws(b)


def test_random_state_advances():
    """Making two Generators from one RandomState gives two different streams."""
    state = np.random.RandomState(1)
    assert draws(make_rng(state)) != draws(make_rng(state))


@pytest.mark.parametrize("bad", ["seed", 1.5, [1, 2], object()])
def test_bad_type_raises_type_error_naming_it(bad):
    """A seed of an unsupported type raises TypeError naming the type."""
    with pytest.raises(TypeError, match=type(bad).__name__):
        make_rng(bad)


def test_false_gives_none():
    """``make_rng(False)`` is None: False means no randomness (as in batchflow)."""
    assert make_rng(False) is None


def test_negative_seed_raises_value_error():
    """A negative int seed raises ValueError naming it."""
    with pytest.raises(ValueError, match="-3"):
        make_rng(-3)


def test_spawn_rngs_count_and_independence():
    """``spawn_rngs`` gives n Generators with different streams."""
    rngs = spawn_rngs(0, 4)
    assert len(rngs) == 4
    assert len({tuple(draws(g)) for g in rngs}) == 4


def test_spawn_rngs_prefix_stable_for_int_seed():
    """For an int seed, child i is the same whatever the number of children."""
    assert [draws(g) for g in spawn_rngs(5, 2)] == [draws(g) for g in spawn_rngs(5, 6)[:2]]


def test_spawn_rngs_from_generator_is_reproducible():
    """Children of a seeded Generator are the same for the same seed."""
    a = [draws(g) for g in spawn_rngs(np.random.default_rng(2), 3)]
    b = [draws(g) for g in spawn_rngs(np.random.default_rng(2), 3)]
    assert a == b


def test_spawn_rngs_rejects_bad_count():
    """A negative or non-int count raises ValueError."""
    with pytest.raises(ValueError, match="count"):
        spawn_rngs(0, -1)


# -- make_seed_sequence, spawn_seed_sequence (batchflow's helpers) ------------------------------


def test_make_seed_sequence_from_an_int_has_that_entropy_as_in_batchflow():
    from batchkit import make_seed_sequence

    assert make_seed_sequence(5).entropy == 5
    assert make_seed_sequence(False).entropy != make_seed_sequence(True).entropy  # fresh entropy


def test_make_seed_sequence_refuses_what_it_cannot_use():
    from batchkit import make_seed_sequence

    with pytest.raises(TypeError, match="seed sequence"):
        make_seed_sequence("seed")


def test_spawned_seed_sequences_are_the_next_children_as_in_batchflow():
    import numpy as np

    from batchkit import spawn_seed_sequence

    parent = np.random.SeedSequence(5)
    assert [spawn_seed_sequence(parent).spawn_key for _ in range(2)] == [(0,), (1,)]
    assert parent.n_children_spawned == 2


def test_a_batch_and_a_running_pipeline_have_seed_sequences_to_spawn_from():
    import numpy as np

    from batchkit import B, Dataset, spawn_seed_sequence

    seen = []
    pipeline = Dataset(4).p.call(lambda batch: seen.append(spawn_seed_sequence(batch)), B())
    pipeline = pipeline.call(lambda running: seen.append(spawn_seed_sequence(running)), B().pipeline)
    pipeline.run(2, bar=False, seed=3)
    assert len(seen) == 4 and all(isinstance(s, np.random.SeedSequence) for s in seen)
    with pytest.raises(ValueError, match="needs a SeedSequence"):
        spawn_seed_sequence(7)


def test_datasets_and_indices_are_basesets():
    from batchkit import Baseset, Dataset, DatasetIndex, FilesIndex

    assert isinstance(Dataset(3), Baseset) and isinstance(DatasetIndex(3), Baseset)
    assert issubclass(FilesIndex, Baseset) and not isinstance([1, 2], Baseset)
