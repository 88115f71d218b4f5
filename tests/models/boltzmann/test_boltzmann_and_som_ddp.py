"""Two DDP processes (CLI, subprocess) end where one process ends: the RBM's and the SOM's statistics
are averaged by ``reduce`` and the persistent chains are the same on every rank."""

from __future__ import annotations

import pytest
from engine_runs import assert_same_weights, ddp_and_one_process

COMMON = [
    "--data",
    "digits",
    "--epochs",
    "2",
    "--no-progress",
    "--samples",
    "0",
    "--threads",
    "1",
    "--accelerator",
    "cpu",
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [["rbm", "--binarize", "static", "--hidden", "12", "--chains", "20"], ["som", "--rows", "5", "--cols", "5"]],
    ids=["rbm", "som"],
)
def test_ddp_two_processes_match_one_process(tmp_path, model):
    metrics = ddp_and_one_process(tmp_path, "train", *model, *COMMON, "--select", "last")
    assert_same_weights(tmp_path)  # weights, velocities, persistent chains, bounding boxes (infinite until used)
    assert metrics["ddp"]["devices"] == 2
