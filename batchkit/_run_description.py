"""A stable description of a run, for its journal: equal for the same script, run again.

`describe_run` is what the journal's header records about a run (`describe` describes one
value: no memory addresses, functions by name and code, arrays by a hash of their data);
`fingerprint` hashes a batch's index values; `_differences` names what differs between two
descriptions; `check_journaled` refuses, before any work, a run that could not be resumed
exactly. The journal file itself is `batchkit._journal`'s.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import re

import numpy as np

from ._iteration import _is_shuffled

__all__ = ["check_journaled", "describe", "describe_run", "fingerprint"]


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def fingerprint(values) -> str:
    """A short hash of an array of index values (the same values give the same hash, run to run).

    >>> fingerprint(np.arange(3)) == fingerprint([0, 1, 2]), fingerprint(np.arange(3)) == fingerprint([0, 1])
    (True, False)
    """
    array = np.asarray(values)
    if array.dtype.kind in "biufcUSmM":
        data = f"{array.dtype.str}{array.shape}".encode() + np.ascontiguousarray(array).tobytes()
    else:  # objects: their reprs (their bytes would be pointers)
        data = repr(array.tolist()).encode()
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def _code_digest(code) -> str:
    """A hash of a code object's behaviour: bytecode, names and constants (not line numbers)."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(code.co_code)
    digest.update(repr(code.co_names).encode())
    for const in code.co_consts:
        digest.update(_code_digest(const).encode() if inspect.iscode(const) else repr(const).encode())
    return digest.hexdigest()


def _qualified(value) -> str:
    return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', repr(value))}"


def describe(value) -> str:
    """A description of ``value`` that is the same in every run of the same script.

    Reprs with memory addresses would change from run to run: functions are described by name
    and code, arrays by shape, dtype and a hash of their data, other objects by their repr with
    any address left out. Values a function closes over are not part of its description.

    >>> describe([1, "a", {"k": (2.5, None)}])
    "[1, 'a', {'k': (2.5, None)}]"
    >>> describe(np.zeros((2, 3))).startswith("array(shape=(2, 3), dtype=float64,")
    True
    >>> describe(len), describe(object()).startswith("<object object")
    ('builtins.len', True)
    """
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return repr(value)
    if isinstance(value, np.generic):
        return repr(value.item())
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape}, dtype={value.dtype}, {fingerprint(value)})"
    if isinstance(value, os.PathLike):
        return repr(os.fspath(value))
    if isinstance(value, list):
        return "[" + ", ".join(map(describe, value)) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(describe, value)) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(map(describe, value))) + "}"
    if isinstance(value, dict):
        items = sorted((describe(k), describe(v)) for k, v in value.items())
        return "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    if isinstance(value, np.random.SeedSequence):
        return f"SeedSequence({value.entropy}, spawn_key={value.spawn_key})"
    if isinstance(value, functools.partial):
        return f"partial({describe(value.func)}, {describe(value.args)}, {describe(value.keywords)})"
    if isinstance(value, type):
        return _qualified(value)
    if inspect.ismethod(value):
        return f"{_qualified(type(value.__self__))}.{value.__func__.__name__}"
    if inspect.isfunction(value):
        return f"{_qualified(value)}[{_code_digest(value.__code__)}]"
    if inspect.isbuiltin(value):
        return _qualified(value)
    from .pipeline import Pipeline

    if isinstance(value, Pipeline):
        return f"Pipeline({describe_actions(value.actions)})"
    return _ADDRESS.sub("", repr(value))


def _describe_action(action) -> str:
    if action.kind == "pipeline":
        inner = describe_actions(action.pipeline.actions)
        return f"pipeline({inner}, repeat={action.repeat}, probability={describe(action.probability)})"
    arguments = [describe(value) for value in action.args]
    arguments += [f"{name}={describe(value)}" for name, value in sorted(action.kwargs.items())]
    return f"{action.name}({', '.join(arguments)})"


def describe_actions(actions) -> list[str]:
    return [_describe_action(action) for action in actions]


def _walk(actions, nested=False):
    for action in actions:
        yield action, nested
        if action.kind == "pipeline":
            yield from _walk(action.pipeline.actions, True)


def check_journaled(pipeline, shuffle, seed, endless) -> None:
    """Raise before any work runs if this run could not be resumed exactly."""
    if endless:
        raise TypeError("a journal needs a run with an end: next_batch cannot keep one; use run or gen_batch")
    if _is_shuffled(shuffle) and not _is_seed(shuffle):
        if shuffle is True or isinstance(shuffle, np.bool_):
            if seed is None:
                raise ValueError(
                    "a shuffled run with a journal needs a fixed seed, so that a rerun makes the same "
                    "batches: pass seed=<int> (or shuffle=<int>)"
                )
        else:
            raise ValueError(
                f"a journal cannot resume a run shuffled by a {type(shuffle).__name__}: its state is "
                "not recorded; pass shuffle=True with seed=<int>, or shuffle=<int>"
            )
    if seed is not None and not _is_seed(seed):
        raise ValueError(
            f"a journal needs a seed it can record: an int or a SeedSequence (got {type(seed).__name__})"
        )
    for action, nested in _walk(pipeline.actions):
        if action.kind != "builtin":
            continue
        if action.name in ("rebatch", "join", "merge"):
            raise ValueError(
                f"a journal cannot resume a pipeline with {action.name}: its batches depend on "
                "batches before them (regrouped, or pulled from another pipeline); run it without journal="
            )
        if action.name == "write_to" and nested:
            raise ValueError(
                "a journal needs write_to at the top of the pipeline, not inside a repeated or "
                "probabilistic part (where its writes are neither in run order nor once per batch)"
            )


def _is_seed(value) -> bool:
    return isinstance(value, np.random.SeedSequence) or (
        isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    )


def describe_run(pipeline, *, batch_size, order, seed, batch_kwargs) -> dict:
    """What the journal's header records about the run: equal for the same script, run again."""
    dataset = pipeline.dataset
    outputs = [
        os.path.abspath(os.fspath(action.args[0]))
        for action in pipeline.actions
        if action.kind == "builtin" and action.name == "write_to"
    ]
    variables = getattr(pipeline, "_variables", None)
    return {
        "dataset": {
            "class": _qualified(type(dataset)),
            "n_items": len(dataset),
            "index": fingerprint(dataset.index.indices),
            "batch_class": _qualified(pipeline.batch_class),
        },
        "batch_size": batch_size,
        "shuffle": describe(order["shuffle"]),
        "seed": describe(seed),
        "n_epochs": describe(order["n_epochs"]),
        "n_iters": describe(order["n_iters"]),
        "drop_last": bool(order["drop_last"]),
        "actions": describe_actions(pipeline.actions),
        "before": describe_actions(pipeline._before),
        "after": describe_actions(pipeline._after),
        "config": describe(pipeline.config),
        "variables": sorted(variables.names()) if variables is not None else [],
        "batch_kwargs": describe(dict(batch_kwargs)),
        "outputs": outputs,
    }


def _differences(recorded: dict, current: dict) -> list[str]:
    lines = []
    for key in current.keys() | recorded.keys():
        old, new = recorded.get(key), current.get(key)
        if old == new:
            continue
        if isinstance(old, list) and isinstance(new, list) and key in ("actions", "before", "after"):
            for step, (a, b) in enumerate(zip(old, new, strict=False)):
                if a != b:
                    lines.append(f"{key}: step {step} is {a:.120} in the journal, {b:.120} now")
                    break
            else:
                lines.append(f"{key}: {len(old)} steps in the journal, {len(new)} now")
        elif isinstance(old, dict) and isinstance(new, dict):
            for sub in sorted(old.keys() | new.keys()):
                if old.get(sub) != new.get(sub):
                    lines.append(
                        f"{key} {sub}: {old.get(sub)!r:.120} in the journal, {new.get(sub)!r:.120} now"
                    )
        else:
            lines.append(f"{key}: {old!r:.120} in the journal, {new!r:.120} now")
    return sorted(lines)
