"""``@mjit``: compile a batch method's body with numba."""

from __future__ import annotations

import functools
import inspect

from ._numba_layer import prefer_threadsafe_layer, serialised

__all__ = ["JitMethod", "mjit"]


class JitMethod:
    """A method whose body numba compiles; made by `mjit`.

    Inside the body ``self`` is ``None``: numba cannot type a batch, so the method works only on
    its arguments. ``py_func`` is the plain Python function; ``dispatcher`` the numba one.
    """

    def __init__(self, fn, options: dict):
        if not inspect.isfunction(fn):
            raise TypeError(f"mjit compiles a function defined with def (got {fn!r})")
        if inspect.iscoroutinefunction(fn) or inspect.isgeneratorfunction(fn):
            raise TypeError(f"mjit cannot compile {fn.__qualname__}: numba compiles plain functions only")
        import numba

        functools.update_wrapper(self, fn)
        self.py_func = fn
        self.options = dict(options)
        # numba compiles from the function object (its bytecode): no source text, no exec, so
        # the body sees its own module's globals and works wherever the function was defined.
        self.dispatcher = numba.jit(**self.options)(fn)
        #: a prange kernel: numba's workqueue layer aborts the process on concurrent launches
        self.parallel = bool(self.options.get("parallel"))
        if self.parallel:
            prefer_threadsafe_layer()
        self._bound = self._make_bound()

    def _call(self, *args, **kwargs):
        try:
            if self.parallel:
                with serialised():  # one launch at a time, on a layer that is not threadsafe only
                    return self.dispatcher(None, *args, **kwargs)
            return self.dispatcher(None, *args, **kwargs)
        except Exception as exc:
            if _is_numba_error(exc) and not getattr(exc, "_batchkit_noted", False):
                exc.add_note(
                    f"batchkit: numba could not compile the @mjit method {self.__qualname__}; "
                    "its body must be numba-compatible and cannot use self (it is None)"
                )
                exc._batchkit_noted = True
            raise

    def _make_bound(self):
        """The callable an instance hands out: no self, but the method's name, doc and signature."""
        call = self._call

        @functools.wraps(self.py_func)
        def bound(*args, **kwargs):
            return call(*args, **kwargs)

        signature = inspect.signature(self.py_func)
        bound.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])
        del bound.__wrapped__  # the signature above is the one to show, without self
        bound.py_func = self.py_func
        bound.dispatcher = self.dispatcher
        bound.options = self.options
        return bound

    def __get__(self, instance, owner=None):
        # The same callable through the class and every instance, since self is None inside:
        # Kernels.add_one(41) and Kernels(index).add_one(41) both work.
        return self._bound

    def __call__(self, _self, *args, **kwargs):
        return self._call(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<mjit method {self.__qualname__}>"


def _is_numba_error(exc: Exception) -> bool:
    from numba.core import errors

    return isinstance(exc, (errors.TypingError, errors.UnsupportedError, errors.LoweringError))


def mjit(fn=None, *, nopython: bool = True, nogil: bool = True, **options):
    """Compile a method's body with numba (``self`` is ``None`` inside).

    Use as ``@mjit`` or ``@mjit(parallel=True, cache=True, ...)``; the options go to
    ``numba.jit``. ``nopython`` and ``nogil`` default to True, so a compiled method releases
    the GIL and runs truly in parallel on ``target="threads"``. Compilation happens at the
    first call; a typing error raised then carries a note naming the method.
    ``NUMBA_DISABLE_JIT=1`` runs the Python body instead.

    Examples
    --------
    >>> import numpy as np
    >>> from batchkit import Batch, mjit
    >>> class Signals(Batch):
    ...     @mjit
    ...     def energy(self, x):
    ...         total = 0.0
    ...         for v in x:
    ...             total += v * v
    ...         return total
    >>> Signals(np.arange(1)).energy(np.array([3.0, 4.0]))
    25.0
    """
    options = dict(nopython=nopython, nogil=nogil, **options)
    if fn is None:
        return functools.partial(JitMethod, options=options)
    return JitMethod(fn, options)
