"""Named expressions: B, V, C, D, F, R, I, W, P, PP, operators, chains, set modes, eval_expr, pickling."""

import copy
import operator
import pickle
from collections import OrderedDict, defaultdict, namedtuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchkit import Batch
from batchkit.named import (
    PP,
    AlgebraicExpression,
    B,
    C,
    D,
    F,
    I,
    NamedExpression,
    P,
    R,
    V,
    W,
    eval_expr,
    is_named,
)
from batchkit.rng import make_rng

Pair = namedtuple("Pair", "first second")


class Images(Batch):
    """A small batch class with two components."""

    components = ("images", "labels")


class FakeDataset:
    """A dataset stand-in with one attribute."""

    def __init__(self, name):
        self.name = name


class FakePipeline:
    """A pipeline stand-in: config, variables, a generator and a dataset."""

    def __init__(self, config=None, variables=None, random=None, dataset=None):
        self.config = {} if config is None else config
        self.variables = dict(variables or {})
        self.random = random
        self.dataset = dataset
        self.set_calls = []

    def get_variable(self, name):
        return self.variables[name]

    def set_variable(self, name, value, mode="w"):
        self.set_calls.append((name, value, mode))
        self.variables[name] = value


def make_batch(n=4, random=None, dataset=None, iteration=3, n_iterations=10, pipeline=None):
    images = np.arange(n * 6, dtype=float).reshape(n, 2, 3)
    return Images.from_data(
        data={"images": images, "labels": np.arange(n) * 10},
        iteration=iteration,
        n_iterations=n_iterations,
        random=random,
        dataset=dataset,
        pipeline=pipeline,
    )


def add_one(x):
    """A module-level function (pickles by reference)."""
    return x + 1


def pair(a, b=0):
    """A module-level function of two arguments."""
    return (a, b)


# -- B -----------------------------------------------------------------------------------------


def test_b_reads_a_component():
    """B(name) evaluates to the batch's component, the very object stored."""
    batch = make_batch()
    assert B("images").get(batch) is batch.images


def test_b_reads_an_attribute():
    """B(name) reads any batch attribute, not only components."""
    assert B("iteration").get(make_batch(iteration=7)) == 7


def test_b_without_name_is_the_batch():
    """B() evaluates to the batch itself."""
    batch = make_batch()
    assert B().get(batch) is batch


def test_b_copy_gives_a_copy():
    """B(name, copy=True) evaluates to a deep copy of the attribute."""
    batch = make_batch()
    value = B("images", copy=True).get(batch)
    assert value is not batch.images
    np.testing.assert_array_equal(value, batch.images)


def test_b_class_attribute_is_b_of_that_name():
    """B.images is the same expression as B('images')."""
    batch = make_batch()
    assert repr(B.images) == "B('images')"
    assert B.images.get(batch) is batch.images


def test_b_without_batch_raises():
    """Evaluating B without a batch raises ValueError naming the expression."""
    with pytest.raises(ValueError, match=r"B\('images'\) needs a batch"):
        B("images").get()


def test_b_missing_attribute_keeps_attribute_error():
    """A missing batch attribute raises AttributeError, with a note naming the expression."""
    with pytest.raises(AttributeError) as info:
        B("nothing").get(make_batch())
    assert any("B('nothing')" in note for note in info.value.__notes__)


def test_b_name_must_be_a_string():
    """B(3) is a TypeError at construction."""
    with pytest.raises(TypeError, match="takes a name"):
        B(3)


def test_b_set_writes_the_attribute():
    """B(name).set(value) does setattr(batch, name, value)."""
    batch = make_batch()
    B("labels").set([1, 2, 3, 4], batch)
    assert batch.labels == [1, 2, 3, 4]


def test_b_set_append_to_a_list():
    """Mode 'append' appends to the current list in place."""
    batch = make_batch()
    batch.log = [1]
    B("log").set(2, batch, mode="append")
    assert batch.log == [1, 2]


def test_b_set_append_to_a_missing_attribute_starts_a_list():
    """Appending to an attribute the batch lacks starts a new list."""
    batch = make_batch()
    B("log").set(5, batch, mode="a")
    assert batch.log == [5]


def test_b_set_extend_an_array_concatenates():
    """Mode 'extend' on an array component concatenates along the first axis."""
    batch = make_batch()
    B("labels").set([100, 200], batch, mode="e")
    assert batch.labels.tolist() == [0, 10, 20, 30, 100, 200]


def test_b_set_append_to_an_array_adds_a_row():
    """Mode 'append' on an array adds the value as one more element along the first axis."""
    batch = make_batch()
    B("images").set(np.ones((2, 3)), batch, mode="a")
    assert batch.images.shape == (5, 2, 3)


def test_b_set_update_a_dict():
    """Mode 'update' updates the current dict."""
    batch = make_batch()
    batch.meta = {"a": 1}
    B("meta").set({"b": 2}, batch, mode="u")
    assert batch.meta == {"a": 1, "b": 2}


def test_b_default_mode_comes_from_the_expression():
    """B(name, mode='a').set(...) appends without a mode argument."""
    batch = make_batch()
    batch.log = []
    B("log", mode="a").set("x", batch)
    assert batch.log == ["x"]


def test_set_with_an_unknown_mode_raises():
    """An unknown mode raises ValueError listing the modes."""
    with pytest.raises(ValueError, match="mode must be one of"):
        B("labels").set(1, make_batch(), mode="overwrite")


def test_b_without_name_cannot_be_set():
    """B().set raises TypeError: the batch itself is not assignable."""
    with pytest.raises(TypeError, match="cannot be assigned"):
        B().set(1, make_batch())


def test_append_to_a_scalar_raises_type_error():
    """Appending to an attribute holding a scalar raises TypeError naming the type."""
    with pytest.raises(TypeError, match="cannot append to a int"):
        B("iteration").set(1, make_batch(), mode="a")


# -- V -----------------------------------------------------------------------------------------


def test_v_reads_a_variable():
    """V(name) evaluates to pipeline.get_variable(name)."""
    assert V("loss").get(pipeline=FakePipeline(variables={"loss": 0.5})) == 0.5


def test_v_uses_the_batch_pipeline_when_none_given():
    """Without a pipeline argument, V reads batch.pipeline."""
    batch = make_batch(pipeline=FakePipeline(variables={"k": 3}))
    assert V("k").get(batch) == 3


def test_v_set_calls_set_variable_with_the_mode():
    """V(name).set passes value and the one-letter mode to pipeline.set_variable."""
    pipeline = FakePipeline(variables={"acc": []})
    V("acc").set(0.9, pipeline=pipeline, mode="append")
    assert pipeline.set_calls == [("acc", 0.9, "a")]


def test_v_without_pipeline_raises():
    """Evaluating V without a pipeline raises ValueError."""
    with pytest.raises(ValueError, match="needs a pipeline"):
        V("x").get(make_batch())


# -- C -----------------------------------------------------------------------------------------


def test_c_reads_a_key():
    """C(name) evaluates to pipeline.config[name]."""
    assert C("lr").get(pipeline=FakePipeline(config={"lr": 0.1})) == 0.1


def test_c_reads_nested_keys_with_slashes():
    """C('a/b') reads config['a']['b']."""
    assert C("model/depth").get(pipeline=FakePipeline(config={"model": {"depth": 5}})) == 5


def test_c_prefers_a_literal_slash_key():
    """A key that itself contains a slash is read directly."""
    assert C("a/b").get(pipeline=FakePipeline(config={"a/b": 1, "a": {"b": 2}})) == 1


def test_c_without_name_is_the_config():
    """C() evaluates to the whole config."""
    config = {"x": 1}
    assert C().get(pipeline=FakePipeline(config=config)) is config


def test_c_missing_key_raises_key_error_naming_it():
    """A missing key raises KeyError naming the key and the missing part."""
    with pytest.raises(KeyError, match=r"'model/width'.*'width' is missing under 'model'"):
        C("model/width").get(pipeline=FakePipeline(config={"model": {"depth": 5}}))


def test_c_default_for_a_missing_key():
    """C(name, default=...) returns the default for a missing key."""
    assert C("model/width", default=8).get(pipeline=FakePipeline(config={"model": {}})) == 8


def test_c_set_writes_nested_keys():
    """C('a/b').set(v) writes config['a']['b'], creating the middle dict."""
    pipeline = FakePipeline(config={})
    C("model/depth").set(4, pipeline=pipeline)
    assert pipeline.config == {"model": {"depth": 4}}


# -- D -----------------------------------------------------------------------------------------


def test_d_reads_the_batch_dataset():
    """D(name) reads an attribute of batch.dataset."""
    assert D("name").get(make_batch(dataset=FakeDataset("mine"))) == "mine"


def test_d_falls_back_to_the_pipeline_dataset():
    """Without batch.dataset, D reads pipeline.dataset."""
    pipeline = FakePipeline(dataset=FakeDataset("theirs"))
    assert D("name").get(make_batch(), pipeline) == "theirs"


def test_d_without_any_dataset_raises():
    """D with no dataset anywhere raises ValueError."""
    with pytest.raises(ValueError, match="needs a dataset"):
        D("name").get(make_batch(), FakePipeline())


# -- F -----------------------------------------------------------------------------------------


def test_f_calls_with_evaluated_arguments():
    """F(fn, *args, **kwargs) calls fn with every argument evaluated."""
    batch = make_batch()
    pipeline = FakePipeline(variables={"b": 7})
    assert F(pair, B("iteration"), b=V("b")).get(batch, pipeline) == (3, 7)


def test_f_call_form_equals_argument_form():
    """F(fn)(a, b=c) gives the same as F(fn, a, b=c)."""
    pipeline = FakePipeline(variables={"b": 7})
    assert F(pair)(1, b=V("b")).get(pipeline=pipeline) == F(pair, 1, b=V("b")).get(pipeline=pipeline)
    assert repr(F(pair)(1, b=2)) == "F(pair, 1, b=2)"


def test_f_without_arguments_calls_fn():
    """F(fn) evaluates to fn()."""
    assert F(list).get() == []


def test_f_needs_a_callable():
    """F(non-callable) is a TypeError."""
    with pytest.raises(TypeError, match="takes a callable"):
        F(3)


# -- R -----------------------------------------------------------------------------------------


def test_r_draws_from_the_batch_generator():
    """R draws from batch.random when the batch has one."""
    batch = make_batch(random=np.random.default_rng(5))
    expected = np.random.default_rng(5).normal(0, 1, size=3)
    np.testing.assert_array_equal(R("normal", 0, 1, size=3).get(batch), expected)


def test_r_draws_from_the_pipeline_generator():
    """Without batch.random, R draws from pipeline.random."""
    pipeline = FakePipeline(random=np.random.default_rng(6))
    expected = np.random.default_rng(6).integers(10, size=2)
    np.testing.assert_array_equal(R("integers", 10, size=2).get(make_batch(), pipeline), expected)


def test_r_with_a_seed_uses_make_rng():
    """R(..., seed=s) draws from make_rng(s), the same values at every evaluation."""
    expected = make_rng(11).uniform(size=4)
    expr = R("uniform", size=4, seed=11)
    np.testing.assert_array_equal(expr.get(), expected)
    np.testing.assert_array_equal(expr.get(make_batch(random=np.random.default_rng(0))), expected)


def test_r_without_any_generator_draws_fresh():
    """With no seed and no generator around, R still draws (from a fresh generator)."""
    assert R("uniform", size=3).get().shape == (3,)


def test_r_non_string_name_is_choice():
    """A non-str name draws with rng.choice from those values."""
    values = R([10, 20, 30], size=50, seed=0).get()
    assert set(values.tolist()) <= {10, 20, 30}


def test_r_evaluation_size_is_prepended():
    """A size given at evaluation is prepended to the instance size."""
    assert R("normal", size=(2, 3), seed=0).get(size=5).shape == (5, 2, 3)
    assert R("normal", size=2, seed=0).get(size=5).shape == (5, 2)
    assert R("normal", seed=0).get(size=5).shape == (5,)


def test_r_arguments_may_be_expressions():
    """R's arguments are evaluated before the draw."""
    pipeline = FakePipeline(variables={"high": 1})
    assert R("integers", V("high"), size=20, seed=0).get(pipeline=pipeline).tolist() == [0] * 20


def test_r_unknown_method_raises_with_suggestions():
    """R('normall') raises AttributeError suggesting 'normal'."""
    with pytest.raises(AttributeError, match="did you mean 'normal'"):
        R("normall")


# -- I -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("what", "expected"),
    [("current", 3), ("c", 3), ("max", 10), ("m", 10), ("ratio", 0.3), ("r", 0.3)],
)
def test_i_reads_iteration_counters(what, expected):
    """I('current'/'max'/'ratio') and their aliases read the counters: current is batch.iteration."""
    assert I(what).get(make_batch(iteration=3, n_iterations=10)) == pytest.approx(expected)


def test_i_default_is_current():
    """I() is the current batch's number, from 1 as batchflow counts: batch.iteration."""
    assert I().get(make_batch(iteration=5)) == 5


def test_i_max_is_none_when_the_total_is_unknown():
    assert I("max").get(make_batch(iteration=2, n_iterations=None)) is None


def test_i_ratio_raises_when_the_total_is_unknown():
    with pytest.raises(ValueError, match="number of batches is unknown"):
        I("ratio").get(make_batch(iteration=2, n_iterations=None))


def test_i_current_raises_outside_a_run():
    with pytest.raises(ValueError, match="not in a run"):
        I("current").get(make_batch(iteration=None))


def test_i_rejects_an_unknown_counter():
    """I('epoch') is a ValueError at construction."""
    with pytest.raises(ValueError, match="takes one of"):
        I("epoch")


# -- operators ---------------------------------------------------------------------------------

BINARY_OPS = [
    operator.add,
    operator.sub,
    operator.mul,
    operator.truediv,
    operator.floordiv,
    operator.mod,
    operator.pow,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
    operator.and_,
    operator.or_,
    operator.xor,
]


@settings(max_examples=150, deadline=None)
@given(
    a=st.integers(-50, 50),
    b=st.integers(-50, 50),
    op=st.sampled_from(BINARY_OPS),
)
def test_binary_operators_match_python(a, b, op):
    """For ints a, b, evaluating V('a') op V('b') equals a op b."""
    if op in (operator.truediv, operator.floordiv, operator.mod) and b == 0:
        b = 1
    if op is operator.pow:
        b = abs(b) % 5
    pipeline = FakePipeline(variables={"a": a, "b": b})
    assert op(V("a"), V("b")).get(pipeline=pipeline) == op(a, b)


@settings(max_examples=100, deadline=None)
@given(a=st.integers(-50, 50), b=st.integers(1, 50), op=st.sampled_from(BINARY_OPS))
def test_reflected_operators_match_python(a, b, op):
    """For ints a, b, evaluating a op V('b') (a constant on the left) equals a op b."""
    if op is operator.pow:
        b = b % 5
    assert op(a, V("b")).get(pipeline=FakePipeline(variables={"b": b})) == op(a, b)


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda x: -x, -6),
        (lambda x: +x, 6),
        (lambda x: abs(-x), 6),
        (lambda x: ~x, ~6),
    ],
)
def test_unary_operators(build, expected):
    """Unary minus, plus, abs and invert evaluate like Python's."""
    assert build(V("x")).get(pipeline=FakePipeline(variables={"x": 6})) == expected


def test_matmul_operator():
    """A @ B evaluates to the matrix product, with the expression on either side."""
    pipeline = FakePipeline(variables={"m": np.eye(2) * 2})
    vector = np.array([1.0, 3.0])
    np.testing.assert_array_equal((V("m") @ vector).get(pipeline=pipeline), [2.0, 6.0])
    np.testing.assert_array_equal((vector @ V("m")).get(pipeline=pipeline), [2.0, 6.0])


def test_numpy_array_on_the_left_builds_an_expression():
    """ndarray + expression gives an expression, not an object array."""
    expr = np.arange(3) + V("x")
    assert isinstance(expr, AlgebraicExpression)
    assert expr.get(pipeline=FakePipeline(variables={"x": 1})).tolist() == [1, 2, 3]


def test_equality_is_identity_and_expressions_hash():
    """== is not overloaded: expressions are usable as dict keys and with `in`."""
    x = B("x")
    table = {x: 1}
    assert table[x] == 1
    assert x in [B("y"), x]
    assert (x == B("x")) is False
    assert (x != B("x")) is True


# -- attribute access, indexing, calls ---------------------------------------------------------


def test_attribute_then_index_chain():
    """B('images').shape[0] evaluates to the number of items."""
    assert (B("images").shape[0] + 1).get(make_batch(n=4)) == 5


def test_indexing_with_an_int():
    """B('images')[0] evaluates to the first element."""
    batch = make_batch()
    np.testing.assert_array_equal(B("images")[0].get(batch), batch.images[0])


def test_indexing_with_expressions_in_keys_and_slices():
    """Keys, tuple keys and slice bounds that are expressions are evaluated."""
    batch = make_batch()
    pipeline = FakePipeline(variables={"i": 1, "j": 3})
    np.testing.assert_array_equal(B("labels")[V("i") : V("j")].get(batch, pipeline), [10, 20])
    assert B("images")[V("i"), 1, 2].get(batch, pipeline) == batch.images[1, 1, 2]


def test_method_call_with_keywords():
    """B('images').mean(axis=0) calls the method on the evaluated component."""
    batch = make_batch()
    np.testing.assert_array_equal(B("images").mean(axis=0).get(batch), batch.images.mean(axis=0))


def test_call_arguments_are_evaluated():
    """Arguments of a call in a chain are evaluated before the call."""
    batch = make_batch()
    pipeline = FakePipeline(variables={"axis": 1})
    np.testing.assert_array_equal(
        B("images").sum(axis=V("axis")).get(batch, pipeline), batch.images.sum(axis=1)
    )


def test_set_through_an_index():
    """B('labels')[1].set(v) writes that element of the component."""
    batch = make_batch()
    B("labels")[1].set(99, batch)
    assert batch.labels[1] == 99


def test_set_through_an_attribute():
    """B('dataset').name.set(v) sets the attribute of the evaluated object."""
    batch = make_batch(dataset=FakeDataset("old"))
    B("dataset").name.set("new", batch)
    assert batch.dataset.name == "new"


def test_set_through_a_dict_key_in_update_mode():
    """V('d')['k'].set(v, mode='u') updates the dict held under that key."""
    pipeline = FakePipeline(variables={"d": {"k": {"a": 1}}})
    V("d")["k"].set({"b": 2}, pipeline=pipeline, mode="u")
    assert pipeline.variables["d"]["k"] == {"a": 1, "b": 2}


def test_operator_expression_cannot_be_set():
    """An arithmetic expression is not assignable (TypeError)."""
    with pytest.raises(TypeError, match="cannot be assigned"):
        (B("labels") + 1).set(0, make_batch())


def test_private_and_dunder_attributes_raise():
    """Private and dunder names raise AttributeError, so hasattr, copy and numpy behave."""
    expr = B("x")
    assert not hasattr(expr, "__array__")
    assert not hasattr(expr, "_secret")
    assert repr(copy.copy(expr)) == "B('x')"
    assert repr(copy.deepcopy(expr + 1)) == "B('x') + 1"


def test_public_attribute_builds_an_expression():
    """Any public attribute name gives an expression (evaluated lazily)."""
    assert isinstance(B("x").anything, AlgebraicExpression)


def test_expressions_are_not_iterable():
    """Iterating an expression raises TypeError instead of looping for ever."""
    with pytest.raises(TypeError, match="not iterable"):
        list(B("images"))


def test_expressions_are_immutable():
    """Setting an attribute on an expression raises AttributeError."""
    with pytest.raises(AttributeError, match="immutable"):
        B("x").name = "y"


# -- repr --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (B("images").shape[0] + 1, "B('images').shape[0] + 1"),
        ((B("a") + 1) * 2, "(B('a') + 1) * 2"),
        (1 - (B("a") - B("b")), "1 - (B('a') - B('b'))"),
        (-(B("x") ** 2), "-B('x') ** 2"),
        ((-B("x")) ** 2, "(-B('x')) ** 2"),
        (abs(B("x")).mean(axis=0), "abs(B('x')).mean(axis=0)"),
        (B("x")[1:3, ..., V("i")], "B('x')[1:3, ..., V('i')]"),
        ((B("x") < 3) & (B("y") >= 2), "(B('x') < 3) & (B('y') >= 2)"),
        (2 < B("x"), "B('x') > 2"),  # noqa: SIM300 - the reflected comparison is the point
        (F(pair, B("x"), b=2), "F(pair, B('x'), b=2)"),
        (R("normal", 0, 1, size=3), "R('normal', 0, 1, size=3)"),
        (C("a/b", default=None), "C('a/b', default=None)"),
        (I("r"), "I('ratio')"),
        (B(), "B()"),
        (D("name"), "D('name')"),
        (P(R("normal")), "P(R('normal'))"),
        (PP(R("normal")), "PP(R('normal'))"),
        (W(V("x")), "W(V('x'))"),
    ],
)
def test_repr_reads_like_the_code(expr, text):
    """repr gives the expression as it would be written, with minimal parentheses."""
    assert repr(expr) == text


# -- P and PP ----------------------------------------------------------------------------------


def test_p_of_r_draws_one_value_per_item():
    """P(R(...)).resolve draws with size=len(batch) and returns a list of that length."""
    batch = make_batch(n=5, random=np.random.default_rng(2))
    values = P(R("normal")).resolve(batch)
    assert isinstance(values, list)
    assert len(values) == 5
    np.testing.assert_array_equal(values, np.random.default_rng(2).normal(size=5))


def test_p_of_r_with_size_gives_one_array_per_item():
    """P(R(..., size=s)) gives one draw of shape s per item."""
    values = P(R("uniform", size=(2, 2), seed=0)).resolve(make_batch(n=3))
    assert [v.shape for v in values] == [(2, 2)] * 3


def test_p_of_an_algebraic_r_expression():
    """An expression holding R is evaluated with size=len(batch) too."""
    values = P(R("uniform", seed=0) * 0 + B("labels")).resolve(make_batch(n=4))
    assert [float(v) for v in values] == [0.0, 10.0, 20.0, 30.0]


def test_p_of_a_list_is_taken_as_is():
    """P(list) resolves to those values."""
    assert P(["a", "b", "c", "d"]).resolve(make_batch(n=4)) == ["a", "b", "c", "d"]


def test_p_of_an_array_gives_its_elements():
    """P(ndarray) resolves to the list of its elements."""
    assert P(np.arange(4) * 2).resolve(make_batch(n=4)) == [0, 2, 4, 6]


def test_p_of_a_named_expression_is_evaluated():
    """P(B(...)) evaluates the expression and gives its elements."""
    assert P(B("labels")).resolve(make_batch(n=4)) == [0, 10, 20, 30]


def test_p_length_mismatch_names_both_lengths():
    """P whose values do not match the batch size raises ValueError naming both lengths."""
    with pytest.raises(ValueError, match="gave 3 values for a batch of 4 items"):
        P([1, 2, 3]).resolve(make_batch(n=4))


def test_p_of_a_scalar_expression_raises():
    """P of an expression giving a scalar raises ValueError (no length)."""
    with pytest.raises(ValueError, match="has no length"):
        P(B("iteration")).resolve(make_batch())


def test_p_without_batch_raises():
    """P.resolve without a batch raises ValueError."""
    with pytest.raises(ValueError, match="needs the batch"):
        P([1]).resolve()


def test_p_rejects_strings_and_scalars():
    """P('abc') and P(3) are TypeErrors at construction."""
    for bad in ("abc", 3):
        with pytest.raises(TypeError, match="named expression or a list"):
            P(bad)


def test_pp_evaluates_once_per_item():
    """PP(expr) evaluates expr anew for each item, so shapes may vary."""
    calls = []

    def shape():
        calls.append(1)
        return np.zeros(len(calls))

    values = PP(F(shape)).resolve(make_batch(n=3))
    assert [v.shape for v in values] == [(1,), (2,), (3,)]


def test_pp_of_r_draws_independently_per_item():
    """PP(R(...)) draws one full draw per item from the batch generator."""
    batch = make_batch(n=3, random=np.random.default_rng(9))
    values = PP(R("normal", size=2)).resolve(batch)
    np.testing.assert_array_equal(np.stack(values), np.random.default_rng(9).normal(size=(3, 2)))


def test_pp_needs_an_expression():
    """PP of plain values is a TypeError."""
    with pytest.raises(TypeError, match="takes a named expression"):
        PP([1, 2])


def test_per_item_markers_are_flagged_for_the_decorator():
    """P and PP carry the class flag that inbatch_parallel looks for."""
    assert P._batchkit_per_item and PP._batchkit_per_item
    assert isinstance(PP(B("x")), P)


# -- eval_expr ---------------------------------------------------------------------------------


def test_eval_expr_recurses_through_containers():
    """eval_expr evaluates inside nested lists, tuples, dicts (keys too) and sets."""
    pipeline = FakePipeline(variables={"a": 1, "b": "key"})
    obj = [V("a"), (V("a") + 1, {V("b"): [V("a")]}), {V("a") * 5}, frozenset({V("a")})]
    assert eval_expr(obj, pipeline=pipeline) == [1, (2, {"key": [1]}), {5}, frozenset({1})]


def test_eval_expr_keeps_namedtuples_and_dict_subclasses():
    """A namedtuple stays one, and a defaultdict keeps its factory."""
    pipeline = FakePipeline(variables={"a": 1})
    result = eval_expr(Pair(V("a"), 2), pipeline=pipeline)
    assert result == Pair(1, 2) and type(result) is Pair
    table = eval_expr(defaultdict(list, {"x": V("a")}), pipeline=pipeline)
    assert table["x"] == 1 and table["missing"] == []
    assert type(eval_expr(OrderedDict(x=V("a")), pipeline=pipeline)) is OrderedDict


def test_eval_expr_returns_plain_objects_unchanged():
    """Objects without expressions come back as the same object."""
    data = {"a": [1, 2], "b": np.zeros(2)}
    assert eval_expr(data) is data
    assert eval_expr(5) == 5


def test_eval_expr_unwraps_w_without_evaluating():
    """W(expr) evaluates to expr itself, unevaluated."""
    inner = V("x")
    assert eval_expr(W(inner)) is inner
    assert eval_expr([W(inner)])[0] is inner


def test_eval_expr_leaves_p_and_pp_untouched():
    """P and PP markers pass through eval_expr as they are."""
    marker, many = P(R("normal")), PP(R("normal"))
    assert eval_expr(marker) is marker
    assert eval_expr({"k": many})["k"] is many


def test_eval_expr_error_keeps_type_and_names_the_expression():
    """A failing sub-expression keeps its error type; notes name it and the whole expression."""
    with pytest.raises(KeyError) as info:
        eval_expr({"x": V("missing") + 1}, pipeline=FakePipeline())
    notes = info.value.__notes__
    assert any("V('missing')" in note and "+" not in note for note in notes)
    assert any("V('missing') + 1" in note for note in notes)


def test_eval_expr_error_in_a_user_function_is_noted():
    """An error raised by F's function keeps its type and gets a note naming F."""
    with pytest.raises(ZeroDivisionError) as info:
        eval_expr(F(operator.truediv, 1, 0))
    assert any("F(truediv, 1, 0)" in note for note in info.value.__notes__)


def test_is_named():
    """is_named is True for expressions only, not for markers or plain values."""
    assert is_named(B("x")) and is_named(B("x") + 1) and is_named(R("normal"))
    assert not is_named(W(B("x"))) and not is_named(P([1])) and not is_named([B("x")])
    assert isinstance(F(add_one), NamedExpression)


# -- pickling ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: B("images").shape[0] + V("k") * 2,
        lambda: F(add_one, B("labels")[V("k")]),
        lambda: F(pair)(1, b=C("model/depth")),
        lambda: -(abs(B("labels") - 3) ** 2) >= I("c"),
        lambda: B("images").sum(axis=V("k")),
        lambda: R("integers", 100, size=2, seed=4) + I("m"),
    ],
)
def test_composite_expressions_pickle(build):
    """A composite expression round-trips through pickle and evaluates the same."""
    batch = make_batch()
    pipeline = FakePipeline(config={"model": {"depth": 2}}, variables={"k": 1})
    expr = build()
    clone = pickle.loads(pickle.dumps(expr))
    assert repr(clone) == repr(expr)
    np.testing.assert_array_equal(clone.get(batch, pipeline), expr.get(batch, pipeline))


def test_markers_pickle():
    """P, PP and W round-trip through pickle."""
    for marker in (P(R("normal", seed=1)), PP(B("labels")), W(V("x")), P([1, 2])):
        clone = pickle.loads(pickle.dumps(marker))
        assert type(clone) is type(marker) and repr(clone) == repr(marker)


def test_unpickled_expression_is_still_immutable():
    """An unpickled expression rejects attribute assignment like the original."""
    clone = pickle.loads(pickle.dumps(B("x", mode="a")))
    assert repr(clone) == "B('x', mode='a')"
    with pytest.raises(AttributeError):
        clone.extra = 1
