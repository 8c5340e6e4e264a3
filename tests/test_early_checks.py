"""Mistakes caught before any item runs, with messages that say what to do."""

import io
import threading

import numpy as np
import pytest

from batchkit import Batch, inbatch_parallel, parallel

pytestmark = pytest.mark.timeout(60)


def double(x):
    return 2 * x


class Counted(Batch):
    """A batch whose per-item action counts its calls: a check must fire before the first."""

    components = ("images",)
    calls = 0

    def _init_images(self, *args, **kwargs):
        return list(range(len(self)))

    def _post_images(self, results, *args, **kwargs):
        return self

    @inbatch_parallel(init="indices", post="no_such_post", target="for")
    def with_unknown_post(self, ix):
        Counted.calls += 1

    @inbatch_parallel(init="indices", target="for")
    def plain(self, ix, scale=1):
        Counted.calls += 1

    @inbatch_parallel(init="indices", post="_post_narrow", target="for")
    def with_narrow_post(self, ix, scale=1):
        Counted.calls += 1

    def _post_narrow(self, results):
        return self

    @inbatch_parallel(init="images", target="mpc")
    def per_item_on_mpc(self, image):
        return image.sum()


def make(n=4):
    Counted.calls = 0
    return Counted.from_data(data={"images": np.zeros((n, 2))})


# -- at decoration ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["init", "post"])
def test_an_impossible_literal_is_refused_at_decoration(role):
    """init=5 or post=5 can never work: refused when the decorator is applied, naming the role."""
    settings = {"init": "indices", role: 5}
    with pytest.raises(TypeError, match=f"{role}= of .* must be"):
        inbatch_parallel(**settings)(lambda self, ix: ix)


def test_an_iterable_init_is_accepted_at_decoration():
    """An iterable of entries is a valid init."""
    assert parallel(init=[1, 2], target="for")(double)() == [2, 4]


# -- at class creation ------------------------------------------------------------------------


def test_a_misspelled_post_is_refused_when_the_class_is_made():
    """post naming nothing, beside a near name, is a typo: refused at class creation."""
    with pytest.raises(AttributeError, match="Did you mean '_post_images'"):

        class Typo(Batch):
            components = ("images",)

            def _post_images(self, results):
                return self

            @inbatch_parallel(init="indices", post="_post_imags")
            def act(self, ix):
                pass


def test_a_misspelled_component_init_is_refused_when_the_class_is_made():
    """init naming a misspelled component is refused at class creation with the close name."""
    with pytest.raises(AttributeError, match="Did you mean 'images'"):

        class Typo(Batch):
            components = ("images", "labels")

            @inbatch_parallel(init="imags")
            def act(self, image):
                pass


def test_a_name_a_subclass_will_provide_is_not_refused_at_class_creation():
    """A base class may name a component its subclasses declare: checked later, not refused."""

    class Base(Batch):
        @inbatch_parallel(init="scans", target="for")
        def act(self, scan):
            scan[...] = 1

    class Scans(Base):
        components = ("scans",)

    batch = Scans.from_data(data={"scans": np.zeros((2, 3))})
    assert batch.act().scans.sum() == 6


def test_check_names_refuses_a_name_the_class_lacks():
    """check_names(cls), run when a pipeline is built, refuses a name with "did you mean"."""
    with pytest.raises(AttributeError, match=r"post='no_such_post'.*components: \['images'\]"):
        Counted.with_unknown_post.check_names(Counted)


# -- at call time, before any item runs -------------------------------------------------------


def test_an_unknown_post_fails_before_any_item_runs():
    """A post that resolves to nothing raises before the first item, so no work is lost."""
    batch = make()
    with pytest.raises(AttributeError, match="no_such_post"):
        batch.with_unknown_post()
    assert Counted.calls == 0


def test_a_post_that_cannot_take_the_actions_arguments_fails_before_any_item_runs():
    """post is called with the results and the action's arguments: a narrower one is refused first."""
    batch = make()
    with pytest.raises(TypeError, match="called with the results list, then the action's positional"):
        batch.with_narrow_post(scale=2)
    assert Counted.calls == 0


def test_an_init_that_cannot_take_the_actions_arguments_names_the_rule():
    """A callable init that takes fewer arguments than the action gets gets a message naming the rule."""
    action = parallel(init=lambda: [1, 2], target="for")(double)
    with pytest.raises(TypeError, match=r"init=.* is called with the action's positional and keyword"):
        action(3)


def test_a_type_error_raised_inside_init_is_not_rewritten():
    """A TypeError init raises itself propagates as it is."""

    def init(n):
        raise TypeError("init's own bug")

    with pytest.raises(TypeError, match=r"^init's own bug$"):
        parallel(init=init, target="for")(double)(1)


def test_an_mpc_method_written_per_item_gets_the_contract_explained():
    """A target='mpc' method taking an item is told it runs once and returns the worker function."""
    with pytest.raises(TypeError, match=r"called once, in the caller.*module-level function"):
        make().per_item_on_mpc()


# -- what cannot cross to processes -----------------------------------------------------------


def test_an_unpicklable_argument_is_reported_once_by_name_before_work_runs():
    """A lock passed to an mpc action fails the call once, naming the argument, not every item."""
    action = parallel(init=lambda *a, **k: list(range(50)), target="mpc")(double)
    with pytest.raises(TypeError, match=r"argument 'lock' of .* cannot be pickled"):
        action(lock=threading.Lock())


def test_an_unpicklable_positional_argument_is_named_by_position():
    """A positional argument that cannot be pickled is named by its position."""
    action = parallel(init=lambda *a, **k: [1], target="mpc")(double)
    with pytest.raises(TypeError, match="argument 0 of"):
        action(threading.Lock())


def test_an_open_file_argument_is_refused_on_mpc(tmp_path):
    """An open file is not silently read and copied to the workers: refused with what to do."""
    path = tmp_path / "data.txt"
    path.write_text("hello")
    action = parallel(init=lambda *a, **k: [1], target="mpc")(double)
    with open(path) as file, pytest.raises(TypeError, match=r"open file .*Pass its path"):
        action(source=file)


def test_an_open_file_entry_fails_its_own_item_on_mpc(tmp_path):
    """An init entry that is an open file is refused (not read and copied): its item fails alone."""
    path = tmp_path / "data.txt"
    path.write_text("hello")
    with open(path) as file:
        results = parallel(init=lambda: [file, 2], post=lambda r: r, target="mpc")(double)()
    assert results.failed_positions == [0] and "open file" in str(results[0]) and results[1] == 4


def test_an_in_memory_buffer_is_plain_data_on_mpc():
    """A BytesIO holds no operating-system file: it crosses as a copy, like any object."""
    action = parallel(init=[1], target="mpc")(lambda x, buffer: buffer.getvalue())
    assert action(buffer=io.BytesIO(b"x")) == [b"x"]


def test_files_are_fine_on_threads():
    """Threads share memory: an open file argument is passed as it is."""
    action = parallel(init=lambda *a, **k: [1, 2], target="threads")(lambda x, source: source.getvalue())
    assert action(source=io.BytesIO(b"x")) == [b"x", b"x"]
