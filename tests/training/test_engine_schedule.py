"""Engine additions: the epoch reaches models whose loss takes it; training metrics are window means;
an epoch may be a random part of the training split, validation a fixed part of the validation split."""

from __future__ import annotations

import csv
from dataclasses import dataclass

import pytest
import torch

import untaught
from untaught.models.base import Model, ModelConfig


@dataclass
class _Config(ModelConfig):
    pass


class _Scheduled(Model):
    """A linear model whose loss records the epoch the engine hands it (None when not given)."""

    Config = _Config
    name = "scheduled-test-model"
    description = "test model"

    def __init__(self, config: _Config) -> None:
        super().__init__(config)
        self.w = torch.nn.Parameter(torch.zeros(config.dims))
        self.seen: list[tuple[int | None, bool]] = []
        self.values: list[float] = []  # training losses, step by step
        self.batches: list[frozenset[float]] = []  # training batches, as sets of their images' sums
        self.evaluated: list[int] = []  # sizes of the validation and test batches

    def loss(self, x, *, generator=None, epoch=None):
        self.seen.append((epoch, self.training))
        u = x.flatten(1).to(self.w.dtype) / 16
        value = ((u - self.w) ** 2).sum(1).mean()
        if self.training:
            self.values.append(value.item())
            self.batches.append(frozenset(x.flatten(1).sum(1).tolist()))
        else:
            self.evaluated.append(len(x))
        return value, {"twice": 2 * value.detach()}


def test_the_engine_passes_the_current_epoch_to_a_loss_that_takes_it(tmp_path):
    model = _Scheduled(_Config(shape=(1, 8, 8), levels=17))
    untaught.train(model, "digits", epochs=3, out=tmp_path / "run", progress=False, threads=1, samples=0)
    training = [epoch for epoch, mode in model.seen if mode]
    assert training == [0] * 19 + [1] * 19 + [2] * 19  # 1257 // 64 = 19 steps per epoch
    assert all(epoch is None for epoch, mode in model.seen if not mode)  # validation and test: no schedule


def test_training_metrics_are_logged_as_means_over_the_window(tmp_path):
    model = _Scheduled(_Config(shape=(1, 8, 8), levels=17))
    untaught.train(model, "digits", epochs=2, out=tmp_path / "run", progress=False, threads=1, samples=0)
    with open(tmp_path / "run" / "log" / "version_0" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["train/loss"]]
    assert [int(r["step"]) for r in rows] == [9, 19, 29]  # Lightning writes every 10 optimizer steps
    for r, window in zip(rows, [(0, 10), (10, 20), (20, 30)], strict=True):
        expected = sum(model.values[window[0] : window[1]]) / 10
        assert abs(float(r["train/loss"]) - expected) < 1e-5 * expected
        assert abs(float(r["train/twice"]) - 2 * expected) < 1e-5 * expected


def test_an_epoch_of_epoch_images_is_a_different_random_part_of_the_split_each_time(tmp_path):
    model = _Scheduled(_Config(shape=(1, 8, 8), levels=17))
    untaught.train(
        model, "digits", epochs=3, epoch_images=320, out=tmp_path / "run", progress=False, threads=1, samples=0
    )
    assert [epoch for epoch, mode in model.seen if mode] == [0] * 5 + [1] * 5 + [2] * 5  # 320 // 64 = 5 steps
    parts = [frozenset().union(*model.batches[5 * e : 5 * e + 5]) for e in range(3)]
    assert parts[0] != parts[1] and parts[1] != parts[2]
    with pytest.raises(ValueError, match=r"epoch_images must be an integer >= batch_size \(64\); got 10"):
        untaught.train(_Scheduled(_Config(shape=(1, 8, 8), levels=17)), "digits", epoch_images=10, out=tmp_path / "b")


def test_val_images_validates_on_the_first_images_and_tests_on_the_whole_split(tmp_path):
    model = _Scheduled(_Config(shape=(1, 8, 8), levels=17))
    untaught.train(model, "digits", epochs=2, val_images=100, out=tmp_path / "r", progress=False, threads=1, samples=0)
    assert model.evaluated == [100, 100, 100, 360]  # two epochs' validation, the final one, the 360 test images
