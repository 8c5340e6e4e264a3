"""Starting a run of a pipeline: the `Pipeline` methods ``run``, ``gen_batch``, ``next_batch``.

They take their arguments from their ``locals()`` (`_run_arguments`), or the ones stored by
``run(lazy=True)``, and hand them to `batchkit._run`, which runs the pipeline. `_Runs` is a
part of `Pipeline`: it reads the pipeline's stored run arguments, its ``next_batch`` state and
its variables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._iteration import keyword_only_after_batch_size

if TYPE_CHECKING:
    from .pipeline import Pipeline


class _Runs:
    """The run entry points of `Pipeline` (a part of it: see `batchkit.pipeline`)."""

    @keyword_only_after_batch_size
    def run(
        self,
        batch_size=None,
        *,
        n_epochs=None,
        n_iters=None,
        shuffle=False,
        drop_last=False,
        prefetch=0,
        bar="auto",
        notifier=None,
        on_batch=None,
        on_error="raise",
        log_file=None,
        seed=None,
        journal=None,
        client=None,
        lazy=False,
        **batch_kwargs,
    ):
        """Run every batch of the dataset through the pipeline; return the pipeline.

        No batch is kept once its ``on_batch`` callback returned, so memory stays flat however
        many batches run. What the run did is in ``pipeline.last_run`` afterwards (a `RunReport`).

        Parameters
        ----------
        batch_size : int
            Items per batch. Every argument after it is keyword-only.
        n_epochs, n_iters : int, optional
            Passes over the dataset, or a number of batches; one epoch when neither is given.
        shuffle : bool, int, SeedSequence or Generator
            Item order, reshuffled at every epoch (see `gen_batch`).
        drop_last : bool
            Drop each epoch's short tail instead of topping it up from the next epoch.
        prefetch : int
            Run up to this many batches at once (threads); results still come in order.
        bar : bool, "auto", dict, "t", "n", "a" or Notifier
            A tqdm progress bar over batches; ``"auto"`` shows it in a terminal or notebook; a dict
            gives tqdm's options; a bar letter or a `Notifier` is taken as ``notifier``.
        notifier : Notifier, "t", "n", "a", True or dict, optional
            batchflow's progress: a `Notifier` (or its bar letter, or a dict of its arguments)
            updated once per batch, showing its monitors (pipeline variables, ``"cpu"``,
            ``"memory"``) next to the bar. It wins over ``bar``.
        on_batch : callable, optional
            Called with each finished batch, in order, in the calling thread.
        on_error : {"raise", "skip", "skip_items"}
            ``"raise"`` stops at the first failed batch. ``"skip"`` logs a failed batch, leaves
            it out and goes on. ``"skip_items"`` drops the items that failed in an action (a
            `ParallelError` says which) from their batch, index and components together, and
            goes on with the rest; a batch whose error names no items, or whose items all
            failed, is skipped as with ``"skip"``. Both skipping policies warn once at the end
            with the counts, and raise `PipelineError` if every batch failed.
        log_file : str or path, optional
            Also write to this file the run's progress, every skipped batch and dropped item
            with its traceback, what anything logs to the ``batchkit`` logger during the run
            (INFO and up) and every warning shown during the run.
        seed : int, optional
            Seeds the per-batch and per-item random generators (``shuffle``'s int by default).
        journal : str or path, optional
            A file recording each finished batch (durably, once its ``write_to`` parts are on
            disk). Running the same script again with the same journal skips those batches and
            finishes the rest, so each batch is in the output exactly once, in order, even
            after a crash. A journal of another run is refused. A shuffled run needs a
            ``seed``; ``rebatch``, ``join`` and ``merge`` cannot be journaled.
        client : dask.distributed.Client or True, optional
            Run each batch's actions up to the first ``rebatch`` or ``write_to`` as a task on
            this dask cluster (True: the client in force, see `batchkit.config`). Batches are
            cut here and loaded on the workers; at most ``prefetch`` are in flight (twice the
            cluster's threads when ``prefetch`` is 0); ``on_batch``, ``write_to`` and what
            follows it run here, in order. See the "Distributed" page of the docs.
        lazy : bool
            Only store these arguments for a later ``run()`` or ``next_batch()``.
        **batch_kwargs
            Passed to the dataset's ``create_batch``.
        """
        from ._run import run_pipeline

        arguments = _run_arguments(locals())
        if lazy:
            self._lazy_run = arguments
            return self
        run_pipeline(self, **self._stored_or(arguments))
        return self

    def run_later(self, *args, **kwargs) -> Pipeline:
        """Store run arguments for a later ``run()``, ``gen_batch()`` or ``next_batch()``."""
        return self.run(*args, lazy=True, **kwargs)

    def _stored_or(self, arguments: dict) -> dict:
        """``arguments``, or the stored ``run(lazy=True)`` ones when no batch size was given."""
        if arguments["batch_size"] is not None:
            return arguments
        if self._lazy_run is None:
            raise TypeError("give batch_size (or store run arguments first with run(..., lazy=True))")
        return dict(self._lazy_run)

    @keyword_only_after_batch_size
    def gen_batch(
        self,
        batch_size=None,
        *,
        n_epochs=None,
        n_iters=None,
        shuffle=False,
        drop_last=False,
        prefetch=0,
        bar=False,
        notifier=None,
        on_batch=None,
        on_error="raise",
        log_file=None,
        seed=None,
        journal=None,
        client=None,
        **batch_kwargs,
    ):
        """Yield each batch after it went through the pipeline (arguments as in `run`).

        Every argument after ``batch_size`` is keyword-only. With a ``journal``, a batch is
        recorded as finished before it is yielded.
        """
        from ._run import generate

        arguments = _run_arguments(locals())
        return generate(self, **self._stored_or(arguments))

    @keyword_only_after_batch_size
    def next_batch(
        self,
        batch_size=None,
        *,
        n_epochs=None,
        n_iters=None,
        shuffle=False,
        drop_last=False,
        prefetch=0,
        on_error="raise",
        seed=None,
        **batch_kwargs,
    ):
        """The next processed batch; a call with other arguments than the last one starts anew.

        Every argument after ``batch_size`` is keyword-only. Without ``n_epochs`` and
        ``n_iters``, batches keep coming, epoch after epoch. Raises ``StopIteration`` when the
        iteration asked for is over. It keeps no journal.
        """
        from ._run import Failed, generate

        arguments = _run_arguments(
            {
                **locals(),
                **dict(bar=False, notifier=None, on_batch=None, log_file=None, journal=None, client=None),
            }
        )
        arguments = self._stored_or(arguments)
        if arguments.get("journal") is not None:
            raise TypeError(
                "next_batch keeps no journal: the stored run arguments have one; use run or gen_batch"
            )
        arguments.update(bar=False, notifier=None, on_batch=None)
        endless = arguments["n_epochs"] is None and arguments["n_iters"] is None
        key = repr(sorted(arguments.items()))
        if self._next_state is None or self._next_state[0] != key:
            # failed batches come out as values, so that the iteration goes on after one
            raising = arguments["on_error"] == "raise"
            options = {**arguments, "on_error": "yield" if raising else arguments["on_error"]}
            self._next_state = (key, generate(self, endless=endless, **options))
        batch = next(self._next_state[1])
        if isinstance(batch, Failed):
            raise batch.error
        return batch

    def reset(self, *what) -> Pipeline:
        """Reset ``"iter"`` (the default: ``next_batch`` starts anew), ``"variables"`` or ``"all"``."""
        what = set(what or ("iter",))
        unknown = what - {"iter", "variables", "all"}
        if unknown:
            raise ValueError(f"reset takes 'iter', 'variables' or 'all' (got {sorted(unknown)})")
        if what & {"iter", "all"}:
            self._next_state = None
        if what & {"variables", "all"}:
            self._variables.reset()
        return self


_RUN_KEYS = (
    "batch_size",
    "n_epochs",
    "n_iters",
    "shuffle",
    "drop_last",
    "prefetch",
    "bar",
    "notifier",
    "on_batch",
    "on_error",
    "log_file",
    "seed",
    "journal",
    "client",
    "batch_kwargs",
)


def _run_arguments(namespace: dict) -> dict:
    """The run arguments among a method's ``locals()``."""
    return {key: namespace[key] for key in _RUN_KEYS}
