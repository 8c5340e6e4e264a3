"""``FilesIndex``: files and directories found by glob patterns, keyed by base name."""

import os
import pickle

import pytest

from batchkit.index import DatasetIndex, FilesIndex


@pytest.fixture
def tree(tmp_path):
    """A small tree: three images, a text file, and sub-directories with nested files."""
    for name in ("a.png", "b.png", "c.png", "notes.txt"):
        (tmp_path / name).write_text(name)
    for sub in ("x", "y"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / f"{sub}1.dat").write_text(sub)
        (tmp_path / sub / "deeper").mkdir()
        (tmp_path / sub / "deeper" / f"{sub}2.dat").write_text(sub)
    return tmp_path


def test_keys_are_base_names(tree):
    """Keys are the files' base names, with extensions by default."""
    files = FilesIndex(path=str(tree / "*.png"))
    assert sorted(files.indices.tolist()) == ["a.png", "b.png", "c.png"]


def test_get_fullpath(tree):
    """``get_fullpath`` gives the path a key came from."""
    files = FilesIndex(path=str(tree / "*.png"))
    assert files.get_fullpath("b.png") == str(tree / "b.png")


def test_get_fullpath_accepts_numpy_strings(tree):
    """A key taken from ``indices`` (a numpy string) finds its path."""
    files = FilesIndex(path=str(tree / "*.png"))
    key = files.indices[0]
    assert os.path.basename(files.get_fullpath(key)) == str(key)


def test_get_fullpath_unknown_key_raises(tree):
    """An unknown key raises KeyError naming it."""
    with pytest.raises(KeyError, match="nope"):
        FilesIndex(path=str(tree / "*.png")).get_fullpath("nope")


def test_no_ext_strips_extensions(tree):
    """``no_ext=True`` gives keys without extensions."""
    files = FilesIndex(path=str(tree / "*.png"), no_ext=True, sort=True)
    assert files.indices.tolist() == ["a", "b", "c"]
    assert files.get_fullpath("a") == str(tree / "a.png")


def test_sort_orders_keys(tree):
    """``sort=True`` sorts the keys."""
    files = FilesIndex(path=str(tree / "*"), sort=True)
    assert files.indices.tolist() == ["a.png", "b.png", "c.png", "notes.txt"]


def test_list_of_patterns(tree):
    """A list of patterns gives the files of all of them."""
    files = FilesIndex(path=[str(tree / "a.*"), str(tree / "*.txt")], sort=True)
    assert files.indices.tolist() == ["a.png", "notes.txt"]


def test_overlapping_patterns_list_a_file_once(tree):
    """A file matched by two patterns is listed once, without a collision error."""
    files = FilesIndex(path=[str(tree / "*.png"), str(tree / "a.*")])
    assert sorted(files.indices.tolist()) == ["a.png", "b.png", "c.png"]


def test_recursive_glob(tree):
    """``**`` matches files at any depth."""
    files = FilesIndex(path=str(tree / "**" / "*.dat"), sort=True)
    assert files.indices.tolist() == ["x1.dat", "x2.dat", "y1.dat", "y2.dat"]
    assert files.get_fullpath("y2.dat") == str(tree / "y" / "deeper" / "y2.dat")


def test_files_only_by_default(tree):
    """Without ``dirs`` directories matched by the pattern are left out."""
    files = FilesIndex(path=str(tree / "*"))
    assert "x" not in files and "a.png" in files


def test_dirs_lists_directories(tree):
    """``dirs=True`` lists directories instead of files."""
    dirs = FilesIndex(path=str(tree / "*"), dirs=True, sort=True)
    assert dirs.indices.tolist() == ["x", "y"]
    assert dirs.get_fullpath("x") == str(tree / "x")
    assert dirs.dirs is True


def test_no_match_warns_and_gives_an_empty_index(tree):
    """A pattern that matches nothing warns (batchflow's message) and gives an empty index."""
    pattern = str(tree / "*.jpg")
    with pytest.warns(UserWarning, match=r"No items to index in .*\*\.jpg"):
        files = FilesIndex(path=pattern)
    assert len(files) == 0
    assert files.index.tolist() == []


def test_one_empty_pattern_among_others_warns_and_keeps_the_rest(tree):
    """Of a list of patterns, one matching nothing warns; the others' files are indexed."""
    with pytest.warns(UserWarning, match=r"\*\.jpg"):
        files = FilesIndex(path=[str(tree / "*.png"), str(tree / "*.jpg")], sort=True)
    assert len(files) > 0
    assert all(name.endswith(".png") for name in files.indices.tolist())


def test_empty_path_list_raises():
    """``path=[]`` raises ValueError."""
    with pytest.raises(ValueError, match="at least one glob pattern"):
        FilesIndex(path=[])


def test_dirs_pattern_matching_only_files_gives_an_empty_index(tree):
    """With ``dirs=True`` a pattern matching only files warns and gives an empty index."""
    with pytest.warns(UserWarning, match="No items to index"):
        assert len(FilesIndex(path=str(tree / "*.png"), dirs=True)) == 0


def test_collision_raises_naming_both_paths(tmp_path):
    """Two files giving the same key raise ValueError naming both paths."""
    (tmp_path / "a.png").write_text("1")
    (tmp_path / "a.jpg").write_text("2")
    with pytest.raises(ValueError, match="collision") as info:
        FilesIndex(path=str(tmp_path / "a.*"), no_ext=True)
    assert "a.png" in str(info.value) and "a.jpg" in str(info.value)


def test_recursive_collision_raises(tmp_path):
    """The same file name in two directories collides."""
    for sub in ("p", "q"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "same.txt").write_text(sub)
    with pytest.raises(ValueError, match=r"same\.txt"):
        FilesIndex(path=str(tmp_path / "**" / "*.txt"))


def test_pathlike_pattern_and_positional_path(tree):
    """A pathlib pattern works, and a lone positional string is taken as the path."""
    assert len(FilesIndex(path=tree / "*.png")) == 3
    assert len(FilesIndex(str(tree / "*.png"))) == 3


def test_is_a_dataset_index(tree):
    """A FilesIndex is a DatasetIndex and finds positions of keys."""
    files = FilesIndex(path=str(tree / "*.png"), sort=True)
    assert isinstance(files, DatasetIndex)
    assert files.get_pos("c.png") == 2


def test_subset_keeps_its_paths_only(tree):
    """A subset is a FilesIndex holding the paths of its own keys."""
    files = FilesIndex(path=str(tree / "*.png"), no_ext=True)
    subset = files.create_subset(["c", "a"])
    assert type(subset) is FilesIndex
    assert subset.get_fullpath("c") == str(tree / "c.png")
    assert set(subset.paths) == {"a", "c"}


def test_subset_with_unknown_key_raises(tree):
    """A subset with a key that has no path raises KeyError naming it."""
    with pytest.raises(KeyError, match="zz"):
        FilesIndex(path=str(tree / "*.png")).create_subset(["zz"])


def test_batches_keep_paths(tree):
    """Batches from ``gen_batch`` and ``next_batch`` are FilesIndex objects with their paths."""
    files = FilesIndex(path=str(tree / "*.png"), no_ext=True, sort=True)
    batches = list(files.gen_batch(2, n_epochs=1))
    assert all(type(b) is FilesIndex for b in batches)
    assert batches[1].get_fullpath("c") == str(tree / "c.png")
    assert files.next_batch(2).get_fullpath("b") == str(tree / "b.png")


def test_split_parts_keep_paths(tree):
    """Split parts keep paths and ``dirs``."""
    files = FilesIndex(path=str(tree / "*"), dirs=True, sort=True)
    files.split(0.5)  # batchflow's order: test ["x"] first, then train ["y"]
    assert files.test.get_fullpath("x") == str(tree / "x")
    assert files.train.get_fullpath("y") == str(tree / "y")
    assert files.train.dirs is True


def test_from_values_and_paths(tree):
    """``FilesIndex(index=values, paths=mapping)`` builds an index from known paths."""
    paths = {"one": str(tree / "a.png"), "two": str(tree / "b.png"), "other": "unused"}
    files = FilesIndex(index=["two", "one"], paths=paths)
    assert files.indices.tolist() == ["two", "one"]
    assert files.get_fullpath("one") == str(tree / "a.png")
    assert set(files.paths) == {"one", "two"}


def test_from_values_missing_path_raises(tree):
    """A value without a path in ``paths`` raises KeyError naming it."""
    with pytest.raises(KeyError, match="three"):
        FilesIndex(index=["three"], paths={"one": "x"})


def test_from_another_files_index_keeps_paths(tree):
    """``FilesIndex(index=files)`` copies the values and paths of another FilesIndex."""
    files = FilesIndex(path=str(tree / "*.png"))
    copy = FilesIndex(index=files)
    assert copy.get_fullpath("a.png") == files.get_fullpath("a.png")


def test_no_source_raises_type_error():
    """Neither ``path`` nor ``index`` with ``paths`` raises TypeError."""
    with pytest.raises(TypeError, match="path="):
        FilesIndex()
    with pytest.raises(TypeError, match="paths="):
        FilesIndex(index=["a"])


def test_paths_mapping_is_read_only(tree):
    """``paths`` cannot be changed from outside."""
    files = FilesIndex(path=str(tree / "*.png"))
    with pytest.raises(TypeError):
        files.paths["a.png"] = "elsewhere"


def test_add_merges_paths(tree):
    """Adding two FilesIndex objects gives one with the keys and paths of both."""
    both = FilesIndex(path=str(tree / "*.png")) + FilesIndex(path=str(tree / "*.txt"))
    assert type(both) is FilesIndex
    assert both.get_fullpath("notes.txt") == str(tree / "notes.txt")
    assert len(both) == 4


def test_add_with_colliding_paths_raises(tmp_path):
    """Adding indices whose equal keys point to different files raises ValueError."""
    for sub in ("p", "q"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "same.txt").write_text(sub)
    first = FilesIndex(path=str(tmp_path / "p" / "*"))
    second = FilesIndex(path=str(tmp_path / "q" / "*"))
    with pytest.raises(ValueError, match="collision"), pytest.warns(UserWarning):
        first + second


def test_pickle_keeps_paths(tree):
    """A pickled FilesIndex keeps its paths."""
    files = pickle.loads(pickle.dumps(FilesIndex(path=str(tree / "*.png"))))
    assert files.get_fullpath("a.png") == str(tree / "a.png")
