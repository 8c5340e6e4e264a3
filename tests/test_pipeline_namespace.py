"""Pipeline.add_namespace: functions of registered modules (and of __main__) become steps by name."""

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from batchkit import B, Batch, Dataset, V, action


def dataset(n=6):
    return Dataset(n, Batch, preloaded=np.arange(float(n)))


def test_a_namespace_function_is_called_per_batch_with_its_arguments_exactly():
    pipeline = dataset().p.add_namespace(np).init_variable("sums", [])
    pipeline = pipeline.sum(B("data"), save_to=V("sums", mode="a"))
    pipeline.run(batch_size=3, bar=False)
    assert [float(s) for s in pipeline.v("sums")] == [3.0, 12.0]


def test_a_module_name_works_too_and_the_call_chains():
    pipeline = dataset().p
    assert pipeline.add_namespace("math") is pipeline
    pipeline = pipeline.init_variable("roots", []).sqrt(16, save_to=V("roots", mode="a"))
    pipeline.run(batch_size=3, bar=False)
    assert pipeline.v("roots") == [4.0, 4.0]


class Halves(Batch):
    components = ("x",)

    @action
    def floor(self):  # also a name in math and numpy: the batch action wins
        self.x = self.x / 2
        return self


def test_batch_actions_come_before_namespaces_and_namespaces_in_order():
    pipeline = Dataset(4, Halves, preloaded={"x": np.arange(4.0)}).p.add_namespace(math, np)
    (batch,) = list(pipeline.floor().gen_batch(4))
    assert batch.x.tolist() == [0.0, 0.5, 1.0, 1.5]  # halved: the action ran, not a floor
    # ceil, in both math (an int back) and numpy (a numpy float back): the first added wins
    for order, kind in (((math, np), int), ((np, math), np.floating)):
        found = dataset().p.add_namespace(*order).init_variable("c").ceil(2.5, save_to=V("c"))
        found.run(batch_size=6, bar=False)
        assert isinstance(found.v("c"), kind) and found.v("c") == 3


def test_an_unknown_name_raises_when_the_pipeline_is_built():
    with pytest.raises(AttributeError, match="no action 'not_a_function_anywhere'"):
        dataset().p.add_namespace(np).not_a_function_anywhere()


def test_bad_namespaces_and_save_to_are_refused():
    with pytest.raises(ModuleNotFoundError):
        dataset().p.add_namespace("no_such_module_here")
    with pytest.raises(TypeError, match="save_to needs a named expression"):
        dataset().p.add_namespace(np).sum(B("data"), save_to="sums")


def test_functions_of_main_are_found_without_registering(tmp_path):
    script = textwrap.dedent(
        """
        import numpy as np
        from batchkit import B, Batch, Dataset, V

        def total(values):
            return float(np.sum(values))

        pipeline = Dataset(4, Batch, preloaded=np.arange(4.0)).p.init_variable("t", [])
        pipeline = pipeline.total(B("data"), save_to=V("t", mode="a"))
        pipeline.run(batch_size=2, bar=False)
        print(pipeline.v("t"))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1.0, 5.0]"
