"""No oversubscription: the thread pools inside mpc workers are capped so workers x threads <= CPUs."""

import os

import pytest

import batchkit
from batchkit._cpus import available_cpus
from batchkit.executors import RunOptions
from batchkit.executors._inner_threads import ENV_VARIABLES, default_cap


def inner_pools(_):
    """What a worker sees: BLAS thread counts, the environment, numba's thread count."""
    import numba
    from threadpoolctl import threadpool_info

    blas = sorted({info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"})
    return blas, {name: os.environ.get(name) for name in ENV_VARIABLES}, numba.get_num_threads()


def uses_numba(_):
    import numba

    return numba.get_num_threads()


@pytest.mark.timeout(60)
def test_workers_cap_blas_and_the_environment_by_default():
    n_workers = 2
    cap = default_cap(n_workers, available_cpus())
    batchkit.map(inner_pools, range(4), target="mpc", n_workers=n_workers)  # numba imported by an item
    results = batchkit.map(inner_pools, range(4), target="mpc", n_workers=n_workers)
    for blas, environment, numba_threads in results:
        assert blas == [cap]
        assert set(environment.values()) == {str(cap)}
        assert numba_threads <= cap


@pytest.mark.timeout(60)
def test_inner_threads_overrides_the_cap_per_call():
    results = batchkit.map(inner_pools, range(2), target="mpc", n_workers=1, inner_threads=1)
    assert all(blas == [1] and env["OMP_NUM_THREADS"] == "1" for blas, env, _ in results)
    results = batchkit.map(inner_pools, range(2), target="mpc", n_workers=1, inner_threads=3)
    assert all(blas == [3] and env["OPENBLAS_NUM_THREADS"] == "3" for blas, env, _ in results)


@pytest.mark.timeout(60)
def test_numba_imported_by_the_worker_function_is_capped_too():
    from batchkit import parallel

    run = parallel(init=lambda: range(2), target="mpc", n_workers=2, inner_threads=1)(uses_numba)
    assert run() == [1, 1]


def test_the_caller_is_left_alone():
    from threadpoolctl import threadpool_info

    before = [info["num_threads"] for info in threadpool_info()]
    batchkit.map(inner_pools, range(2), target="mpc", n_workers=2, inner_threads=1)
    assert [info["num_threads"] for info in threadpool_info()] == before


@pytest.mark.parametrize("value", [0, -2, 1.5, True])
def test_bad_inner_threads_are_refused(value):
    with pytest.raises(ValueError, match="'inner_threads' must be a positive int"):
        RunOptions(inner_threads=value)
