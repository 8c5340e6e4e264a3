"""A pipeline's source stage on a dask cluster: each batch's chain of actions as one task.

``pipeline.run(batch_size, client=...)`` replaces the source stage of `batchkit._run_stages`
with `cluster_source`; everything else of the run stays in the caller, unchanged: the batches are cut
from the index here, and the failure policy, ``on_batch``, ``rebatch``, ``write_to`` and what
follows it, the journal, the progress bar and the report see the outcomes in run order, as
in a local run.

What crosses the network: the run's spec once, scattered to every worker (the pipeline with
its dataset, so its preloaded data too, and the variables as they are when the batches start);
per batch, its index going out, and coming back the processed batch, what the task changed in the pipeline's
variables, and the seconds each action took. A batch's data is loaded on the worker (by the
dataset's ``create_batch``, from files or from the preloaded data).

Variables: a task works on a copy of the variables as the run's start left them and logs every
assignment (`_LoggedVariables`); the caller replays each batch's log onto the pipeline's own
variables in batch order, so write, append, extend and update leave what a local run leaves.
A task does not see the assignments of other batches, so a variable a batch reads and then
writes in "w" mode (a counter ``V("n") + 1``) cannot end as locally: the caller refuses it
with a `PipelineError` at the first such batch instead of leaving a different value.

A worker lost mid-batch (its process killed) makes dask run that batch again on another worker;
the caller takes each batch's result once, so no batch is lost or doubled in the output.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import threading
from collections import deque

from ._run_stages import _SKIPPED, _Outcome, _Stages
from .batch import set_run_context
from .errors import PipelineError, RemoteTraceback, WorkerDied, WorkerError
from .executors._dask_client import import_distributed, resolve_client, total_threads
from .executors._dask_task import remote_task
from .executors._mpc_pickle import dumps, portable_error
from .report import ActionClock
from .variables import Variables

__all__ = ["check_client", "cluster_source", "run_batch"]

#: built-ins that pull batches from another pipeline: its ``next_batch`` state lives in the caller
_PULLING = frozenset({"join", "merge"})


def check_client(client, actions) -> None:
    """Refuse a ``client=`` that is neither None, True nor a client, or a source stage that pulls."""
    if not (client is None or client is True or (hasattr(client, "submit") and hasattr(client, "scatter"))):
        raise TypeError(
            f"'client' must be a dask.distributed Client, True (the one in force) or None (got {client!r})"
        )
    if client is None:
        return
    for action in actions:
        if action.kind == "builtin" and action.name in _PULLING:
            raise TypeError(
                f"{action.name} cannot run on a cluster: it pulls batches from another pipeline, whose "
                "iteration lives in the caller; run without client=, or load the other data in an action"
            )


class _LoggedVariables(Variables):
    """A batch task's variables: the run's as it started, every change logged to replay in the caller."""

    def __init__(self, state: dict):
        super().__init__()
        self.__setstate__(copy.deepcopy(state))
        self.changes: list[tuple] = []
        #: the variables this batch read: one written back in "w" mode after it was read was
        #: computed from the run's start value, not from the other batches' writes
        self.read: set[str] = set()

    def get(self, name: str, default=None, create: bool = False):
        self.read.add(name)
        return super().get(name, default, create)

    def declare(self, name: str, default=None) -> None:
        if name not in self:
            self.changes.append(("declare", name, default))
        super().declare(name, default)

    def set(self, name: str, value, mode: str = "w") -> None:
        super().set(name, value, mode)
        if mode == "w" and name in self.read:
            self.changes.append(("read-then-written", name))
        self.changes.append(("set", name, value, mode))

    def delete(self, name: str) -> None:
        super().delete(name)
        self.changes.append(("delete", name))


def replay(variables: Variables, changes) -> None:
    """Apply a batch task's logged variable changes to the run's ``variables``, in order."""
    for change in changes:
        kind, name = change[0], change[1]
        if kind == "read-then-written":
            raise PipelineError(
                f"pipeline variable {name!r} was read and then written by the same batch on a dask "
                "worker (a counter such as update(V(name), V(name) + 1)): the workers do not see each "
                "other's writes, so it would not end as in a local run. Collect per-batch values with "
                "mode='a' (or 'e') and combine them after the run, or run without client="
            )
        if kind == "set":
            variables.set(name, change[2], change[3])
        elif kind == "declare":
            if name not in variables:
                variables.declare(name, change[2])
        else:
            variables.delete(name)


@dataclasses.dataclass
class _Spec:
    """What every batch task of a run needs: sent to the cluster once per run."""

    pipeline: object
    actions: tuple
    variables: dict
    batch_size: int
    order: dict
    endless: bool
    seed: object
    total: int | None
    on_error: str
    batch_kwargs: dict
    run_id: str


class _RemoteRun(_Stages):
    """The part of a run a batch task needs on the worker (what `_Stages` and `_steps` read)."""

    def __init__(self, spec: _Spec):
        pipeline = copy.copy(spec.pipeline)  # this task's own variables, not the worker's shared copy
        pipeline._variables = _LoggedVariables(spec.variables)
        self.pipeline = pipeline
        self.dataset = pipeline.dataset
        self.batch_size = spec.batch_size
        self.order = spec.order
        self.endless = spec.endless
        self.seed = spec.seed
        self.total = spec.total
        self.on_error = spec.on_error
        self.batch_kwargs = spec.batch_kwargs
        self.run_id = spec.run_id
        self.clock = ActionClock()
        self.lock = threading.Lock()
        self.writers: dict = {}
        self.journal = None


def run_batch(spec: _Spec, indices, iteration: int) -> bytes:
    """The task of one batch, on a worker: make it, run the source actions; the reply, pickled."""
    with remote_task():
        run = _RemoteRun(spec)
        outcome = run.make_and_process(indices, iteration, spec.actions)
    reply = {
        "changes": run.pipeline._variables.changes,
        "clock": run.clock.totals(),
        "dropped": [(value, action, portable_error(error)) for value, action, error in outcome.dropped],
        "error": None if outcome.error is None else portable_error(outcome.error),
        "skipped": outcome.batch is _SKIPPED,
        "batch": None if outcome.batch is _SKIPPED else outcome.batch,
    }
    try:
        return dumps(reply)
    except Exception as why:  # a batch (or a logged value) that cannot come back fails the batch
        error = WorkerError(f"the processed batch cannot be pickled to come back from the worker: {why}")
        reply.update(batch=None, skipped=False, changes=[], error=portable_error(error))
        return dumps(reply)


def _with_cause(pair) -> BaseException:
    error, text = pair
    if text:
        error.__cause__ = RemoteTraceback(text)
    return error


def _merge_clock(clock: ActionClock, totals: dict) -> None:
    # the worker's per-action totals, added as they are: one ``add`` per batch would lose the counts
    with clock._lock:
        for name, part in totals.items():
            mine = clock._totals.setdefault(name, [0, 0, 0.0])
            mine[0] += part.calls
            mine[1] += part.items
            mine[2] += part.seconds


def _task_error(exc: BaseException, distributed) -> WorkerError:
    if isinstance(exc, distributed.KilledWorker):
        return WorkerDied(f"the batch's dask task killed the workers it ran on, and dask gave up: {exc}")
    error = WorkerError(f"the batch's dask task failed: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def _finish(run, distributed, iteration: int, indices, future) -> _Outcome:
    """The outcome of a batch's task, its variable changes replayed and its times counted."""
    outcome = _Outcome(iteration, getattr(indices, "indices", indices))
    try:
        reply = pickle.loads(future.result())
    except Exception as exc:
        outcome.error = _task_error(exc, distributed)
        return outcome
    finally:
        future.release()
    replay(run.pipeline._variables, reply["changes"])
    _merge_clock(run.clock, reply["clock"])
    outcome.dropped = [(value, action, _with_cause(pair)) for value, action, pair in reply["dropped"]]
    if reply["error"] is not None:
        outcome.error = _with_cause(reply["error"])
    elif reply["skipped"]:
        outcome.batch = _SKIPPED
    else:
        batch = reply["batch"]
        # what stayed behind when the batch was pickled: its pipeline and dataset, the caller's
        set_run_context(batch, dataclasses.replace(batch.run_context, pipeline=run.pipeline))
        if "dataset" in batch.__dict__:
            batch.__dict__["dataset"] = run.dataset
        outcome.batch = batch
    return outcome


def _spec(run, actions) -> _Spec:
    pipeline = copy.copy(run.pipeline)
    pipeline._next_state = None  # a generator of next_batch: neither picklable nor of use there
    pipeline._lazy_run = None
    pipeline.last_run = None
    variables = run.pipeline._variables.__getstate__()  # a snapshot, taken under their lock
    pipeline._variables = Variables()  # each task gets its own copy of the snapshot instead
    return _Spec(
        pipeline=pipeline,
        actions=tuple(actions),
        variables=variables,
        batch_size=run.batch_size,
        order=dict(run.order),
        endless=run.endless,
        seed=run.seed,
        total=run.total,
        on_error=run.on_error,
        batch_kwargs=dict(run.batch_kwargs),
        run_id=run.run_id,
    )


def cluster_source(run, batch_indices, actions):
    """Outcomes of the batches of ``batch_indices`` through ``actions``, each run as a task, in order.

    At most ``run.prefetch`` batches are in flight (twice the cluster's threads when it is 0),
    so that memory stays bounded however long the run, and the workers never wait for work.
    """
    distributed = import_distributed()
    client = resolve_client(run.client)
    window = run.prefetch or 2 * total_threads(client)
    # once per run, copied to every worker (peer to peer): a worker that dies takes only its own
    # copy with it, where a single copy lost would lose every batch waiting for it
    try:
        [spec] = client.scatter([_spec(run, actions)], hash=False, broadcast=True)
    except Exception as why:
        raise TypeError(
            "the pipeline cannot be sent to the cluster: it, its dataset and its actions' arguments "
            f"must pickle ({type(why).__name__}: {why}); pass paths and plain data, not open files or locks"
        ) from why
    pending: deque = deque()
    try:
        for iteration, indices in batch_indices:
            key = f"batchkit-batch-{run.run_id[:8]}-{iteration}"
            future = client.submit(run_batch, spec, indices, iteration, key=key, pure=False)
            pending.append((iteration, indices, future))
            if len(pending) >= window:
                yield _finish(run, distributed, *pending.popleft())
        while pending:
            yield _finish(run, distributed, *pending.popleft())
    finally:
        # reached on exhaustion, on an error or StopPipeline in the consumer, and on close():
        # the batches not taken are dropped from the cluster, and so is the spec
        if pending:
            client.cancel([future for _, _, future in pending])
        spec.release()
