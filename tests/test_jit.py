"""@mjit: numba-compiled methods with self None, options, prange, typing errors, NUMBA_DISABLE_JIT."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import numpy as np
import pytest
from numba.core.errors import TypingError

from batchkit import Batch, inbatch_parallel, mjit
from batchkit.jit import JitMethod

ROOT = Path(__file__).resolve().parents[1]
#: tests that need numba to actually compile (the suite may run under NUMBA_DISABLE_JIT=1)
needs_jit = pytest.mark.skipif(bool(numba.config.DISABLE_JIT), reason="NUMBA_DISABLE_JIT is set")


class Kernels(Batch):
    """Compiled methods shared by the tests below (each compiles once, at its first call)."""

    components = ("images",)

    @mjit
    def square_sum(self, x):
        total = 0.0
        for v in x:
            total += v * v
        return total

    @mjit()
    def add_one(self, x):
        return x + 1

    @mjit
    def self_is_none(self, x):
        return self is None

    @mjit(parallel=True)
    def doubled(self, x):
        out = np.empty_like(x)
        for i in numba.prange(x.shape[0]):
            out[i] = 2.0 * x[i]
        return out

    @mjit
    def documented(self, x):
        """Return ``x`` unchanged."""
        return x

    @mjit(nogil=False, fastmath=True)
    def tuned(self, x):
        return x

    @inbatch_parallel(init="images", target="threads")
    @mjit
    def negate(self, image):
        flat = image.reshape(-1)
        for i in range(flat.shape[0]):
            flat[i] = -flat[i]


def jit_method(name):
    """The JitMethod object stored on the class (what ``@mjit`` made)."""
    return vars(Kernels)[name]


def test_bare_decorator_makes_jit_method():
    """``@mjit`` without parentheses turns the function into a JitMethod."""
    assert isinstance(jit_method("square_sum"), JitMethod)


def test_called_decorator_makes_jit_method():
    """``@mjit()`` with parentheses turns the function into a JitMethod too."""
    assert isinstance(jit_method("add_one"), JitMethod)


def test_compiled_result_equals_python_result():
    """The compiled method returns what its Python version (``py_func``) returns."""
    x = np.arange(6.0)
    batch = Kernels(np.arange(1))
    assert batch.square_sum(x) == jit_method("square_sum").py_func(None, x) == 55.0


def test_py_func_is_the_original_function():
    """``py_func`` of the JitMethod is the plain Python function that was decorated."""
    py_func = jit_method("add_one").py_func
    assert not isinstance(py_func, JitMethod)
    assert py_func(None, 2) == 3


@pytest.mark.parametrize("through", ["class", "instance"])
def test_py_func_reachable_through_class_and_instance(through):
    """``Cls.method.py_func`` and ``batch.method.py_func`` give the Python version of an @mjit method."""
    owner = Kernels if through == "class" else Kernels(np.arange(1))
    assert owner.add_one.py_func(None, 2) == 3


def test_method_through_class_keeps_name_and_docstring():
    """An @mjit method looked up on its class keeps the decorated function's name and docstring."""
    assert Kernels.documented.__name__ == "documented"
    assert Kernels.documented.__doc__ == "Return ``x`` unchanged."


def test_self_is_none_inside_compiled_body():
    """Inside a compiled @mjit method ``self`` is None, even when called through an instance."""
    assert Kernels(np.arange(3)).self_is_none(1.0) is True


def test_default_options_are_nopython_and_nogil():
    """``@mjit`` compiles with ``nopython=True`` and ``nogil=True`` by default."""
    assert jit_method("square_sum").options == {"nopython": True, "nogil": True}


def test_options_can_be_overridden_and_extended():
    """``@mjit(nogil=False, fastmath=True)`` overrides a default and passes extra options to numba."""
    assert jit_method("tuned").options == {"nopython": True, "nogil": False, "fastmath": True}


@needs_jit
def test_overridden_options_reach_numba():
    """The options of ``@mjit(...)`` are the ones numba's dispatcher compiles with."""
    dispatcher = jit_method("tuned").dispatcher
    assert dispatcher.targetoptions["nogil"] is False
    assert dispatcher.targetoptions["fastmath"]


def test_parallel_prange_matches_python():
    """``@mjit(parallel=True)`` with ``numba.prange`` gives the same result as the Python body."""
    x = np.arange(100.0)
    got = Kernels(np.arange(1)).doubled(x)
    assert np.array_equal(got, jit_method("doubled").py_func(None, x))
    assert np.array_equal(got, 2 * x)


@needs_jit
def test_typing_error_is_raised_at_first_call_not_at_decoration():
    """A body numba cannot type is accepted at decoration and raises TypingError at the first call."""

    class Broken(Batch):
        @mjit
        def uses_self(self, x):
            return self.offset + x

    with pytest.raises(TypingError):
        Broken(np.arange(1)).uses_self(1.0)


@needs_jit
def test_typing_error_note_added_at_every_failing_call():
    """A second call of a method that failed to compile raises again, with the note naming the method."""

    class Broken(Batch):
        @mjit
        def uses_self(self, x):
            return self.offset + x

    batch = Broken(np.arange(1))
    for _ in range(2):
        with pytest.raises(TypingError) as info:
            batch.uses_self(1.0)
        assert any("Broken.uses_self" in note for note in info.value.__notes__)


@needs_jit
def test_typing_error_note_names_the_method():
    """The typing error raised at the first call has a ``__notes__`` entry naming the method's qualname."""

    class Broken(Batch):
        @mjit
        def identity(self, x):
            return x

    with pytest.raises(TypingError) as info:
        Broken(np.arange(1)).identity(object())
    notes = getattr(info.value, "__notes__", [])
    assert any("Broken.identity" in note for note in notes)


def test_numba_disable_jit_runs_the_python_body():
    """Under ``NUMBA_DISABLE_JIT=1`` an @mjit method runs as Python (it accepts an object numba rejects)."""
    script = textwrap.dedent(
        """
        from batchkit import Batch, mjit

        class B(Batch):
            @mjit
            def kind(self, x):
                return (self is None, type(x).__name__)

        print(B([0]).kind(object()))
        """
    )
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(True, 'object')"


def test_inbatch_parallel_over_mjit_writes_in_place():
    """``@inbatch_parallel(init="images", target="threads")`` over ``@mjit`` writes into every image."""
    images = np.arange(24.0).reshape(4, 2, 3)
    expected = -images
    batch = Kernels.from_data(data=images.copy())
    assert batch.negate() is batch
    assert np.array_equal(batch.images, expected)


def test_callable_through_the_class():
    """An @mjit method can be called through the class, with no instance."""
    assert Kernels.add_one(41) == 42


def test_callable_through_an_instance():
    """An @mjit method can be called through an instance."""
    assert Kernels(np.arange(2)).add_one(41) == 42


def test_jit_method_called_directly_takes_a_placeholder_self():
    """The JitMethod object itself is called like the function: its first argument stands for self."""
    assert jit_method("add_one")("ignored", 1) == 2


@pytest.mark.parametrize("target", [42, "name", staticmethod(lambda x: x), print])
def test_mjit_on_non_function_raises_type_error(target):
    """``mjit`` applied to something that is not a function defined with def raises TypeError."""
    with pytest.raises(TypeError, match="mjit"):
        mjit(target)


def test_mjit_on_coroutine_function_raises_type_error():
    """``mjit`` applied to an ``async def`` function raises TypeError."""

    async def coroutine(self, x):
        return x

    with pytest.raises(TypeError, match="coroutine"):
        mjit(coroutine)
