"""``log_file=``: what actions log and warn during a run reaches the file, and nothing is lost."""

import io
import logging
import warnings

import numpy as np
import pytest

from batchkit import Batch, Dataset, action

pytestmark = pytest.mark.timeout(60)

child = logging.getLogger("batchkit.test_actions")


class Chatty(Batch):
    components = ("x",)

    @action
    def speak(self):
        child.info("speaking about batch %s", self.indices.tolist())
        logging.getLogger("batchkit").warning("a warning from batch %d", self.iteration)
        return self

    @action
    def warn(self):
        warnings.warn(f"odd values in batch {self.iteration}", UserWarning, stacklevel=1)
        return self


def chatty(n=4):
    return Dataset(n, Chatty, preloaded={"x": np.arange(n)}).p


@pytest.fixture
def app_stream():
    """A handler of the application's own on the root logger at WARNING, as a typical setup has."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_what_actions_log_reaches_the_file(tmp_path, app_stream):
    """INFO from a child of the batchkit logger and WARNING from batchkit itself are in the file."""
    log = tmp_path / "run.log"
    chatty().speak().run(2, bar=False, log_file=log)
    text = log.read_text()
    assert "INFO batchkit.test_actions: speaking about batch [0, 1]" in text
    assert "WARNING batchkit: a warning from batch 2" in text


def test_the_application_sees_what_it_saw_without_the_file(tmp_path, app_stream):
    """The application's handler gets the WARNING records, but not the INFO lines the file gets."""
    chatty().speak().run(2, bar=False, log_file=tmp_path / "run.log")
    seen = app_stream.getvalue().splitlines()
    assert seen == ["a warning from batch 1", "a warning from batch 2"]


def test_the_logger_is_put_back_after_the_run(tmp_path):
    """After the run the batchkit logger has its level, handlers and propagation back."""
    logger = logging.getLogger("batchkit")
    before = (logger.level, logger.propagate, list(logger.handlers))
    chatty().speak().run(2, bar=False, log_file=tmp_path / "run.log")
    assert (logger.level, logger.propagate, list(logger.handlers)) == before


def test_a_handler_on_the_batchkit_logger_keeps_its_view(tmp_path):
    """A handler the application put on the batchkit logger itself sees WARNING, not the INFO lines."""
    logger = logging.getLogger("batchkit")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        chatty().speak().run(2, bar=False, log_file=tmp_path / "run.log")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().splitlines() == ["a warning from batch 1", "a warning from batch 2"]


def test_warnings_go_to_the_file_and_still_reach_the_filters(tmp_path):
    """A warning an action gives is written to the file and still shown as the filters say."""
    log = tmp_path / "run.log"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chatty().warn().run(2, bar=False, log_file=log)
    assert [str(w.message) for w in caught] == ["odd values in batch 1", "odd values in batch 2"]
    text = log.read_text()
    assert "WARNING py.warnings:" in text
    assert "UserWarning: odd values in batch 1" in text and "UserWarning: odd values in batch 2" in text


def test_a_warning_the_filters_hide_is_not_logged(tmp_path):
    """The filters decide first: a warning turned off is neither shown nor written."""
    log = tmp_path / "run.log"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore")
        chatty().warn().run(2, bar=False, log_file=log)
    assert caught == []
    assert "odd values" not in log.read_text()


def test_a_warning_made_an_error_fails_the_batch(tmp_path):
    """A filter that turns the warning into an error makes it a batch failure, logged as such."""
    log = tmp_path / "run.log"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(UserWarning):
            chatty().warn().run(2, bar=False, log_file=log)
    assert "batch 1 failed" in log.read_text()


def test_showwarning_is_put_back_after_the_run(tmp_path):
    """After the run, warnings.showwarning is what it was."""
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        before = warnings.showwarning
        chatty().warn().run(2, bar=False, log_file=tmp_path / "run.log")
        assert warnings.showwarning is before


def test_nothing_is_captured_after_the_run(tmp_path):
    """Logs and warnings given after the run do not reach the file."""
    log = tmp_path / "run.log"
    chatty().run(2, bar=False, log_file=log)
    size = log.stat().st_size
    child.warning("after the run")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        warnings.warn("after the run", UserWarning, stacklevel=1)
    assert log.stat().st_size == size


def test_two_generators_open_at_once_each_get_their_lines(tmp_path):
    """Two runs with their own files, interleaved: each file has its run's lines; all is put back."""
    logger = logging.getLogger("batchkit")
    before = (logger.level, list(logger.handlers))
    first = chatty().gen_batch(2, log_file=tmp_path / "a.log")
    second = chatty().gen_batch(2, log_file=tmp_path / "b.log")
    next(first)
    next(second)
    list(first)  # the first run ends while the second is still on
    list(second)
    assert (logger.level, list(logger.handlers)) == before
    a, b = (tmp_path / "a.log").read_text(), (tmp_path / "b.log").read_text()
    assert "batch 1 done" in a and "batch 1 done" in b
    assert a.count("finished") == 1 and b.count("finished") == 1
