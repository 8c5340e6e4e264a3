"""set_gpus and get_available_gpus, against a stand-in nvidia-smi on PATH."""

from __future__ import annotations

import os
import stat

import pytest

from batchkit import get_available_gpus, set_gpus

#: three GPUs: 0 nearly full, 1 empty, 2 empty but with three processes on it
GPUS = "0, GPU-a, 1000, 16000\n1, GPU-b, 15000, 16000\n2, GPU-c, 15500, 16000\n"
APPS = "GPU-a, 11\nGPU-c, 12\nGPU-c, 13\nGPU-c, 14\n"


@pytest.fixture
def fake_smi(tmp_path, monkeypatch):
    script = tmp_path / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        f"  --query-gpu=*) printf '{GPUS}' ;;\n"
        f"  --query-compute-apps=*) printf '{APPS}' ;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)


def test_free_gpus_with_few_processes_are_picked_most_free_first(fake_smi):
    assert get_available_gpus(n="max") == [1]
    assert get_available_gpus(n="max", max_processes=3) == [2, 1]
    assert get_available_gpus(n="max", min_free_memory=500, max_processes=3) == [2, 1, 0]


def test_set_gpus_makes_only_the_chosen_ones_visible(fake_smi):
    assert set_gpus(2, max_processes=3) == [2, 1]
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "2,1"
    assert os.environ["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"


def test_too_few_free_gpus_warn_or_raise(fake_smi):
    with pytest.warns(RuntimeWarning, match="1 of 3 GPUs are free enough; 2 asked for"):
        assert get_available_gpus(2) == [1]
    with pytest.raises(RuntimeError, match="2 asked for"):
        set_gpus(2, raise_error=True)


def test_explicit_indices_need_no_nvidia_smi(monkeypatch):
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert set_gpus([3, 1]) == [3, 1] and os.environ["CUDA_VISIBLE_DEVICES"] == "3,1"


def test_without_nvidia_smi_nothing_changes_and_a_warning_says_why(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with pytest.warns(RuntimeWarning, match="nvidia-smi failed or is missing"):
        assert set_gpus(1) == []
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"
    with pytest.raises(RuntimeError, match="nvidia-smi"):
        set_gpus(1, raise_error=True)


@pytest.mark.parametrize("bad", [0, -1, "two", [0, -2], True])
def test_bad_counts_and_indices_are_refused(bad):
    with pytest.raises(ValueError, match="set_gpus takes"):
        set_gpus(bad)
