"""``init``: a run starts from another run's weights (fine-tuning), and refuses ones that do not fit."""

from __future__ import annotations

import pytest
import torch

import untaught
from untaught.models import MADE, MADEConfig

QUIET = dict(progress=False, threads=1, samples=0)


def made(hidden: int) -> MADE:
    torch.manual_seed(0)
    return MADE(MADEConfig(shape=(1, 8, 8), levels=17, hidden=(hidden,), num_masks=1))


def test_a_run_starts_from_the_weights_of_another(tmp_path):
    first = untaught.train(made(32), "digits", out=tmp_path / "a", epochs=2, **QUIET)
    x = untaught.data.load_split("digits", "test").x[:50]
    fresh = made(32)
    assert not torch.allclose(fresh.log_prob(x), first.model.log_prob(x))
    # a learning rate too small to move the weights: the second run starts (and stays) where the first ended
    second = untaught.train(fresh, "digits", out=tmp_path / "b", epochs=1, lr=1e-30, init=str(tmp_path / "a"), **QUIET)
    torch.testing.assert_close(second.model.log_prob(x), first.model.log_prob(x))
    assert second.metrics["test_nll_nats"] == pytest.approx(first.metrics["test_nll_nats"], rel=1e-6)


def test_weights_of_another_architecture_are_refused(tmp_path):
    untaught.train(made(16), "digits", out=tmp_path / "a", epochs=1, **QUIET)
    with pytest.raises(ValueError, match="do not fit this made"):
        untaught.train(made(32), "digits", out=tmp_path / "b", epochs=1, init=str(tmp_path / "a"), **QUIET)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        untaught.train(made(32), "digits", out=tmp_path / "c", epochs=1, init=str(tmp_path / "nowhere"), **QUIET)
