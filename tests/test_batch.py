"""Batch: components, index, item views, from_data, add_components, in-place actions, pickling."""

import pickle

import numpy as np
import pytest

from batchkit import Batch, Item, ItemRecord, RunContext, inbatch_parallel, mjit
from batchkit.batch import set_run_context


class Images(Batch):
    """A module-level batch class (so that it pickles by reference)."""

    components = ("images", "labels")

    @inbatch_parallel(init="images", target="threads")
    def invert(self, image):
        image[:] = 255 - image

    @inbatch_parallel(init="images", target="threads")
    @mjit
    def double(self, image):
        flat = image.reshape(-1)
        for i in range(flat.shape[0]):
            flat[i] = flat[i] * 2

    @inbatch_parallel(init="run_once", target="for")
    def once(self, calls, tag):
        calls.append(tag)


class Single(Batch):
    components = "images"


def make_images(n=10, index=None):
    images = np.arange(n * 4 * 4, dtype=np.float64).reshape(n, 4, 4)
    labels = np.arange(n) * 10
    return Images.from_data(index=index, data={"images": images, "labels": labels})


# -- declaring components --------------------------------------------------------------------


def test_components_declared_as_tuple():
    """A tuple of names declared as the class attribute ``components`` becomes the class's components."""
    assert Images.components == ("images", "labels")


def test_components_declared_as_single_string():
    """A single string declared as ``components`` is taken as one component, not as characters."""
    assert Single.components == ("images",)


def test_batch_without_components_has_none():
    """A class that declares no components has ``components`` None."""
    assert Batch.components is None


@pytest.mark.parametrize("name", ["1images", "my-images", "class", "two words"])
def test_non_identifier_component_name_refused(name):
    """A component name that is not a Python identifier (or is a keyword) is refused with TypeError."""
    with pytest.raises(TypeError, match="identifier"):
        type("Bad", (Batch,), {"components": (name,)})


def test_private_component_name_refused():
    """A component name starting with an underscore is refused with ValueError."""
    with pytest.raises(ValueError, match="_hidden"):
        type("Bad", (Batch,), {"components": ("_hidden",)})


@pytest.mark.parametrize(
    "name", ["items", "data", "indices", "index", "size", "get_pos", "dataset", "pipeline"]
)
def test_component_name_clashing_with_batch_attribute_refused(name):
    """A component name that is already an attribute of Batch is refused with ValueError."""
    with pytest.raises(ValueError, match=name):
        type("Bad", (Batch,), {"components": ("images", name)})


def test_duplicate_component_names_refused():
    """A component declared twice is refused with ValueError."""
    with pytest.raises(ValueError, match="repeat"):
        type("Bad", (Batch,), {"components": ("images", "labels", "images")})


# -- index -----------------------------------------------------------------------------------


def test_index_from_list():
    """``Batch(list)`` takes the list as the index values."""
    batch = Images([3, 1, 2])
    assert batch.indices.tolist() == [3, 1, 2]


def test_index_from_ndarray():
    """``Batch(ndarray)`` takes the array's values as the index values."""
    batch = Images(np.arange(10, 15))
    assert np.array_equal(batch.indices, np.arange(10, 15))


def test_index_from_object_with_indices():
    """An object with an ``.indices`` attribute is taken as an index: its indices become the batch's."""

    class DatasetIndex:
        indices = np.array([7, 8, 9])

    index = DatasetIndex()
    batch = Images(index)
    assert np.array_equal(batch.indices, [7, 8, 9])
    assert batch.index is index


def test_two_dimensional_index_refused():
    """A 2-D index is refused with TypeError."""
    with pytest.raises(TypeError, match="1-D"):
        Images(np.zeros((3, 2)))


def test_preloaded_data_is_stored_without_copy():
    """``Batch(index, preloaded=data)`` stores the data as given, like ``from_data``."""
    images, labels = np.zeros((3, 2)), np.arange(3)
    batch = Images(np.arange(3), preloaded=(images, labels))
    assert batch.images is images
    assert batch.labels is labels


def test_preloaded_data_with_copy_is_copied():
    """``Batch(index, preloaded=data, copy=True)`` stores a copy; writes to the batch leave the data alone."""
    images = np.zeros((3, 2))
    batch = Images(np.arange(3), preloaded={"images": images}, copy=True)
    batch.images[:] = 1
    assert np.all(images == 0)


def test_len_and_size_count_the_index_values():
    """``len(batch)`` and ``batch.size`` both give the number of index values."""
    batch = Images(np.arange(10, 17))
    assert len(batch) == 7
    assert batch.size == 7


# -- component access ------------------------------------------------------------------------


def test_component_read_returns_the_stored_object():
    """Reading a component returns the very object that was stored, not a copy."""
    images = np.zeros((3, 2, 2))
    batch = Images(np.arange(3))
    batch.images = images
    assert batch.images is images


def test_component_read_after_from_data_is_identity():
    """Components given to ``from_data`` are stored without copying."""
    images, labels = np.zeros((3, 2, 2)), np.arange(3)
    batch = Images.from_data(data=(images, labels))
    assert batch.images is images
    assert batch.labels is labels


def test_component_set_updates_data_dict():
    """Setting a declared component as an attribute stores it in ``batch.data`` under its name."""
    batch = Images(np.arange(3))
    labels = np.arange(3)
    batch.labels = labels
    assert batch.data["labels"] is labels


def test_declared_but_unset_component_is_none():
    """A declared component that was never set reads as None."""
    batch = Images(np.arange(3))
    batch.images = np.zeros((3, 2))
    assert batch.labels is None


def test_unknown_attribute_raises_attribute_error():
    """Reading a name that is neither an attribute nor a component raises AttributeError."""
    batch = make_images()
    with pytest.raises(AttributeError, match="masks"):
        _ = batch.masks


# -- lookup by index value -------------------------------------------------------------------


def test_getitem_by_non_zero_based_index_value():
    """``batch[value]`` finds the item by index value, not by position (index values 10..19)."""
    batch = make_images(index=np.arange(10, 20))
    item = batch[13]
    assert isinstance(item, Item)
    assert item.labels == batch.labels[3]
    assert item.images is not None
    assert np.array_equal(item.images, batch.images[3])


def test_getitem_by_string_index_value():
    """``batch[value]`` works with string index values."""
    batch = Images.from_data(index=np.array(["a", "b", "c"]), data=(np.zeros((3, 2)), np.array([5, 6, 7])))
    assert batch["b"].labels == 6


def test_getitem_by_numpy_scalar_index_value():
    """An index value read back from ``batch.indices`` (a numpy scalar) finds its item."""
    batch = make_images(index=np.arange(10, 20))
    assert batch[batch.indices[4]].labels == batch.labels[4]


def test_getitem_missing_value_raises_key_error():
    """``batch[value]`` for a value not in the index raises KeyError, even if it is a valid position."""
    batch = make_images(index=np.arange(10, 20))
    with pytest.raises(KeyError):
        batch[3]


def test_get_pos_gives_position_of_index_value():
    """``get_pos(value)`` returns the position of that index value in the batch."""
    batch = Images(np.array([30, 10, 20]))
    assert [batch.get_pos(v) for v in (30, 10, 20)] == [0, 1, 2]


def test_get_pos_missing_value_raises_key_error():
    """``get_pos`` of a value not in the index raises KeyError."""
    with pytest.raises(KeyError):
        Images(np.array([30, 10, 20])).get_pos(40)


def test_item_element_is_view_into_batch():
    """An item's component element is the batch's element (a view): writing into it changes the batch."""
    batch = make_images(index=np.arange(10, 20))
    batch[12].images[:] = -1
    assert np.all(batch.images[2] == -1)
    assert np.all(batch.images[3] != -1)


def test_item_attribute_assignment_writes_into_batch():
    """Assigning ``item.<component> = x`` writes ``x`` into the batch's component at the item's position."""
    batch = make_images(index=np.arange(10, 20))
    batch[15].labels = -5
    assert batch.labels[5] == -5


def test_item_unknown_component_raises_attribute_error():
    """Reading a name that is not a component from an item raises AttributeError."""
    with pytest.raises(AttributeError):
        _ = make_images()[0].masks


def test_item_unpacks_in_component_order():
    """Iterating an item gives its elements in the order of the declared components."""
    batch = make_images(index=np.arange(10, 20))
    images, labels = batch[11]
    assert labels == batch.labels[1]
    assert np.array_equal(images, batch.images[1])


def test_items_gives_one_view_per_index_value_in_order():
    """``batch.items`` is a list of item views, one per index value, in index order."""
    batch = make_images(n=5)
    items = batch.items
    assert len(items) == 5
    assert [item.labels for item in items] == batch.labels.tolist()


def test_iteration_gives_items():
    """Iterating a batch yields its items in index order."""
    batch = make_images(n=4)
    assert [item.labels for item in batch] == batch.labels.tolist()


def test_raw_data_batch_getitem_returns_element():
    """On a batch without components, ``batch[value]`` returns that item's element of the raw data."""
    batch = Batch.from_data(index=np.arange(100, 105), data=np.arange(5) * 3)
    assert batch[102] == 6


# -- from_data -------------------------------------------------------------------------------


def test_from_data_dict():
    """``from_data`` with a dict stores each value under its component name."""
    images, labels = np.zeros((4, 2)), np.arange(4)
    batch = Images.from_data(data={"images": images, "labels": labels})
    assert batch.images is images
    assert batch.labels is labels


def test_from_data_tuple_gives_components_in_order():
    """``from_data`` with a tuple stores its elements as the declared components, in order."""
    images, labels = np.zeros((4, 2)), np.arange(4)
    batch = Images.from_data(data=(images, labels))
    assert batch.images is images
    assert batch.labels is labels


def test_from_data_list_gives_components_in_order():
    """``from_data`` with a list stores its elements as the declared components, in order."""
    images, labels = np.zeros((4, 2)), np.arange(4)
    batch = Images.from_data(data=[images, labels])
    assert batch.images is images
    assert batch.labels is labels


def test_from_data_length_comes_from_the_data():
    """The length comes from the data: a 2-component tuple of 10 items gives a batch of 10, not 2."""
    batch = Images.from_data(data=(np.zeros((10, 3)), np.arange(10)))
    assert len(batch) == 10
    assert np.array_equal(batch.indices, np.arange(10))


def test_from_data_single_array_fills_the_one_component():
    """``from_data`` with one array on a one-component class stores it as that component."""
    images = np.zeros((6, 2, 2))
    batch = Single.from_data(data=images)
    assert batch.images is images
    assert len(batch) == 6


def test_from_data_raw_array_without_components():
    """``from_data`` with an array on a class without components keeps it as the raw ``data``."""
    data = np.arange(8)
    batch = Batch.from_data(data=data)
    assert batch.data is data
    assert len(batch) == 8


def test_from_data_dict_without_components_makes_keys_components():
    """``from_data`` with a dict on a class without components makes the dict's keys the components."""
    xs, ys = np.arange(4), np.ones(4)
    batch = Batch.from_data(data={"xs": xs, "ys": ys})
    assert batch.components == ("xs", "ys")
    assert batch.xs is xs
    assert batch[2].ys == 1.0


def test_from_data_dict_without_components_leaves_class_untouched():
    """Making components from a dict changes only that batch, not the Batch class."""
    Batch.from_data(data={"xs": np.arange(4)})
    assert Batch.components is None


def test_from_data_uses_given_index():
    """``from_data(index=...)`` uses the given index values."""
    batch = Images.from_data(index=np.arange(10, 14), data=(np.zeros((4, 2)), np.arange(4)))
    assert np.array_equal(batch.indices, np.arange(10, 14))


def test_from_data_index_length_mismatch_raises_value_error():
    """An index whose length differs from the data's raises ValueError."""
    with pytest.raises(ValueError, match="3"):
        Images.from_data(index=np.arange(3), data=(np.zeros((4, 2)), np.arange(4)))


def test_from_data_unknown_dict_key_raises_value_error():
    """A dict key that is not a declared component raises ValueError naming it."""
    with pytest.raises(ValueError, match="masks"):
        Images.from_data(data={"images": np.zeros((3, 2)), "masks": np.zeros(3)})


def test_from_data_array_into_multi_component_class_raises_type_error():
    """A single array given to a class with several components raises TypeError."""
    with pytest.raises(TypeError, match="dict or a tuple"):
        Images.from_data(data=np.zeros((4, 2)))


def test_from_data_without_data_raises_type_error():
    """``from_data`` with no data raises TypeError."""
    with pytest.raises(TypeError):
        Images.from_data()


# -- add_components --------------------------------------------------------------------------


def test_add_components_adds_a_readable_component():
    """``add_components(name, init=data)`` adds a component readable as an attribute and through items."""
    batch = make_images(n=4)
    masks = np.arange(4) + 100
    assert batch.add_components("masks", init=masks) is batch
    assert batch.components == ("images", "labels", "masks")
    assert batch.masks is masks
    assert batch.items[2].masks == 102


def test_add_components_several_at_once():
    """``add_components`` with several names takes one init value per name."""
    batch = make_images(n=3)
    a, b = np.zeros(3), np.ones(3)
    batch.add_components(("a", "b"), init=(a, b))
    assert batch.a is a
    assert batch.b is b


def test_add_components_does_not_change_the_class():
    """Components added to one batch do not appear on its class or on other batches."""
    batch = make_images(n=3)
    batch.add_components("masks", init=np.zeros(3))
    assert Images.components == ("images", "labels")
    assert make_images(n=3).components == ("images", "labels")


def test_add_components_existing_name_refused():
    """Adding a component that already exists raises ValueError."""
    with pytest.raises(ValueError, match="labels"):
        make_images().add_components("labels")


def test_added_component_set_as_attribute_updates_data():
    """Setting a component added by ``add_components`` as an attribute stores it in ``batch.data``."""
    batch = make_images(n=3)
    batch.add_components("masks", init=np.zeros(3))
    masks = np.ones(3)
    batch.masks = masks
    assert batch.data["masks"] is masks


# -- in-place actions ------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["threads", "for"])
def test_component_init_action_writes_in_place(target):
    """An action with ``init="images"`` that writes ``image[:] = ...`` changes the batch's images."""
    batch = make_images(n=8)
    images = batch.images
    expected = 255 - images.copy()
    assert batch.invert(target=target) is batch
    assert batch.images is images
    assert np.array_equal(batch.images, expected)


def test_component_init_mjit_action_writes_in_place():
    """An ``@mjit`` action with ``init="images"`` on threads writes into the batch's images."""
    batch = make_images(n=8)
    expected = batch.images * 2
    batch.double()
    assert np.array_equal(batch.images, expected)


def test_run_once_calls_the_method_once():
    """``init="run_once"`` calls the method exactly once, with the action's arguments."""
    batch = make_images(n=5)
    calls = []
    batch.once(calls, "tag")
    assert calls == ["tag"]


# -- errors ----------------------------------------------------------------------------------


def test_get_errors_returns_the_exceptions():
    """``Batch.get_errors`` returns the exceptions among an action's results, in order."""
    first, second = ValueError("a"), KeyError("b")
    assert Batch.get_errors([1, first, 2, second]) == [first, second]


def test_get_errors_returns_none_without_failures():
    """``Batch.get_errors`` returns None when no result is an exception."""
    assert Batch.get_errors([1, None, "x"]) is None


# -- pickling --------------------------------------------------------------------------------


def test_batch_pickle_round_trip_keeps_components():
    """A pickled and unpickled batch has the same index, class and component values."""
    batch = make_images(n=6, index=np.arange(10, 16))
    copy = pickle.loads(pickle.dumps(batch))
    assert type(copy) is Images
    assert np.array_equal(copy.indices, batch.indices)
    assert np.array_equal(copy.images, batch.images)
    assert np.array_equal(copy.labels, batch.labels)
    assert copy[12].labels == batch[12].labels


def test_batch_pickle_drops_dataset_and_pipeline():
    """Pickling a batch leaves its dataset and pipeline behind (they come back as None)."""
    batch = make_images(n=3)
    batch.dataset = ["dataset"]
    set_run_context(batch, RunContext(pipeline=["pipeline"], iteration=4))
    copy = pickle.loads(pickle.dumps(batch))
    assert copy.dataset is None
    assert copy.pipeline is None
    assert copy.iteration == 4  # the rest of the run context crosses
    assert batch.dataset == ["dataset"] and batch.pipeline == ["pipeline"]


def test_item_pickles_to_detached_record():
    """A pickled item unpickles as an ItemRecord holding that item's elements."""
    batch = make_images(n=6, index=np.arange(10, 16))
    record = pickle.loads(pickle.dumps(batch[14]))
    assert isinstance(record, ItemRecord)
    assert record.labels == batch.labels[4]
    assert np.array_equal(record.images, batch.images[4])


def test_item_record_is_detached_from_batch():
    """Writing into an unpickled item record does not change the batch."""
    batch = make_images(n=6)
    record = pickle.loads(pickle.dumps(batch[2]))
    record.images[:] = -1
    assert not np.any(batch.images == -1)


def test_item_pickle_is_small_relative_to_batch():
    """An item's pickle holds that item only: it is far smaller than the whole batch's pickle."""
    batch = make_images(n=100)
    assert len(pickle.dumps(batch[5])) * 10 < len(pickle.dumps(batch))


def test_subclass_helpers_with_common_private_names_do_not_break_the_batch():
    """A subclass may name its own post functions _put, _store or _assemble: data still loads."""

    class Posting(Batch):
        components = ("x", "y")

        def _put(self, results, *args, **kwargs):
            self.y = np.array(results)
            return self

        _store = _assemble = _put

    batch = Posting.from_data(data={"x": np.arange(3)})
    assert batch.x.tolist() == [0, 1, 2] and batch.y is None


# -- crop_batch ---------------------------------------------------------------------------------


def test_crop_batch_keeps_the_items_at_the_positions_given():
    """Index, array and list components lose the same items; the batch object stays the same."""
    from batchkit.batch import crop_batch

    batch = make_images(n=4, index=np.arange(10, 14))
    batch.add_components("notes", init=["a", "b", "c", "d"])
    same = crop_batch(batch, [1, 3])
    assert same is batch
    assert batch.indices.tolist() == [11, 13] and batch.notes == ["b", "d"]
    assert batch.labels.tolist() == [make_images(n=4).labels[1], make_images(n=4).labels[3]]
    assert batch.get_pos(13) == 1 and len(batch) == 2


def test_crop_batch_of_raw_data():
    """A batch without components has its raw data cropped."""
    from batchkit.batch import crop_batch

    batch = Batch.from_data(index=[5, 6, 7], data=np.array([50, 60, 70]))
    crop_batch(batch, [0, 2])
    assert batch.indices.tolist() == [5, 7] and batch.data.tolist() == [50, 70]


def test_crop_batch_leaves_the_batch_alone_when_a_component_cannot_be_cropped():
    """A component without one element per item: ValueError, and nothing changed."""
    from batchkit.batch import crop_batch

    batch = make_images(n=4)
    batch.labels = batch.labels[:2]
    with pytest.raises(ValueError, match="component 'labels' has 2 elements for the batch's 4 items"):
        crop_batch(batch, [0])
    assert len(batch) == 4 and len(batch.images) == 4
