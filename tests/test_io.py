"""Files: atomic writes, run-folder errors, weights never unpickled."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from untaught.io import atomic_write_bytes, load_model, save_model
from untaught.models import MADE, MADEConfig


def test_atomic_write_replaces_whole_files_and_leaves_no_temporaries(tmp_path):
    path = tmp_path / "a" / "file.bin"
    atomic_write_bytes(path, b"first")
    atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"second"
    assert [p.name for p in path.parent.iterdir()] == ["file.bin"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "file.bin"
    atomic_write_bytes(path, b"good")

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, b"bad")
    assert path.read_bytes() == b"good" and len(list(tmp_path.iterdir())) == 1


def test_run_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=r"is not a run folder: it has no config\.json"):
        load_model(tmp_path)
    model = MADE(MADEConfig(hidden=(8,)))
    save_model(model, tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"has no model\.safetensors.*--resume"):
        load_model(tmp_path)
    save_model(model, tmp_path)
    data = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or not a safetensors file"):
        load_model(tmp_path)


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path):
    save_model(MADE(MADEConfig(hidden=(8,))), tmp_path)
    config = (
        (tmp_path / "config.json").read_text().replace('"hidden": [\n      8\n    ]', '"hidden": [\n      9\n    ]')
    )
    (tmp_path / "config.json").write_text(config)
    with pytest.raises(ValueError, match="does not fit a MADE"):
        load_model(tmp_path)


def test_a_pickle_is_not_loaded(tmp_path):
    save_model(MADE(MADEConfig(hidden=(8,))), tmp_path)
    torch.save({"x": torch.zeros(1)}, tmp_path / "model.safetensors")  # a pickle in disguise
    with pytest.raises(ValueError, match="corrupt or not a safetensors file"):
        load_model(tmp_path)


def test_a_checkpoint_tree_round_trips_exactly_and_refuses_other_objects(tmp_path):
    from untaught.io import read_tree, tree_bytes

    w = torch.randn(3, 2)
    tree = {
        "state_dict": {"w": w, "tied": w, "flag": torch.tensor([True, False])},
        "optimizer_states": [{"state": {0: {"step": torch.tensor(5.0)}}, "param_groups": [{"betas": (0.9, 0.99)}]}],
        "callbacks": {"best": float("inf"), "epoch": -1, "name": "x", "none": None, "scalar": np.float64(0.5)},
    }
    path = atomic_write_bytes(tmp_path / "last.ckpt", tree_bytes(tree))
    back = read_tree(path)
    assert torch.equal(back["state_dict"]["w"], w) and torch.equal(back["state_dict"]["tied"], w)
    assert back["state_dict"]["flag"].dtype == torch.bool
    assert back["optimizer_states"][0]["state"][0]["step"].item() == 5.0  # int keys stay ints
    assert back["optimizer_states"][0]["param_groups"][0]["betas"] == (0.9, 0.99)  # tuples stay tuples
    assert back["callbacks"] == {"best": float("inf"), "epoch": -1, "name": "x", "none": None, "scalar": 0.5}
    with pytest.raises(TypeError, match=r"only containers, tensors and plain values; got \w*Path"):
        tree_bytes({"x": tmp_path})
    (tmp_path / "pickled").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ValueError, match="not an untaught checkpoint"):
        read_tree(tmp_path / "pickled")
