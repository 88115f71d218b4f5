"""Autoencoders through the engine and the embed / probe / pictures commands."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

import untaught
from untaught.cli import main
from untaught.codes import check_labels, embed, linear_probe
from untaught.data import load_split
from untaught.io import load_model
from untaught.models.autoencoders import DenoisingAutoencoder


@pytest.fixture(scope="module")
def dae_run(tmp_path_factory):
    torch.manual_seed(0)
    model = DenoisingAutoencoder(
        DenoisingAutoencoder.Config(shape=(1, 8, 8), levels=17, hidden=(32,), code=8, corruption="gaussian", noise=0.1)
    )
    folder = tmp_path_factory.mktemp("runs") / "dae"
    run = untaught.train(model, "digits", epochs=3, out=folder, progress=False, threads=1)
    return run


def test_training_lowers_the_clean_reconstruction_loss(dae_run):
    with open(dae_run.path / "log" / "version_0" / "metrics.csv") as f:
        val = [float(row["val/loss"]) for row in csv.DictReader(f) if row["val/loss"]]
    assert len(val) == 3 and val[-1] < val[0]
    assert dae_run.metrics["test_loss"] < 40  # nats over 64 pixels, far below an untrained decoder's ~44


def test_embed_writes_the_codes_of_the_saved_model(dae_run, tmp_path, capsys):
    out = tmp_path / "codes.npz"
    assert main(["embed", str(dae_run.path), "--split", "test", "-o", str(out)]) == 0
    saved = np.load(out)
    model = load_model(dae_run.path)
    x = load_split("digits", "test")
    assert np.array_equal(saved["codes"], embed(model, x.x))
    assert np.array_equal(saved["labels"], x.y.numpy())
    assert saved["codes"].shape == (360, 8)
    assert main(["embed", str(dae_run.path), "-o", str(tmp_path / "codes.txt")]) == 2
    assert "must end in .npy" in capsys.readouterr().err
    assert not (tmp_path / "codes.txt").exists()


def test_probe_prints_test_accuracy(dae_run, capsys):
    assert main(["probe", str(dae_run.path), "--threads", "1"]) == 0
    line = capsys.readouterr().out
    accuracy = float(line.split("test accuracy ")[1].split()[0])
    assert 0.5 < accuracy <= 1.0


def test_pictures_are_written_into_the_run_folder(dae_run, capsys):
    assert main(["pictures", str(dae_run.path), "-n", "8"]) == 0
    for name in ("reconstructions.png", "filters.png", "denoising.png", "codes.png"):
        assert (dae_run.path / name).stat().st_size > 100, name


def test_probe_refuses_unlabelled_data():
    with pytest.raises(ValueError, match="has no labels"):
        check_labels(torch.full((5,), -1), "the training split")
    codes = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="a linear probe needs a labelled dataset"):
        linear_probe(codes, np.full(20, -1), codes, np.zeros(20))


def test_linear_probe_separates_separable_codes():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    codes = np.eye(3)[y] * 5 + rng.normal(size=(300, 3)) * 0.1
    result = linear_probe(codes[:200], y[:200], codes[200:], y[200:])
    assert result.accuracy == 1.0 and result.converged and 1 <= result.iterations < 1000
    cut = linear_probe(codes[:200], y[:200], codes[200:], y[200:], max_iter=2)
    assert cut.iterations == 2 and not cut.converged
