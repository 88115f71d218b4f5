"""Two DDP processes (CLI, subprocess) end where one process ends, for a model that trains in phases
(stacked-ae: greedy pretraining, then fine-tuning with labels) and for the context encoder, whose
batch norm pools its statistics over the ranks and whose discriminator trains in the same loss."""

from __future__ import annotations

import pytest
from engine_runs import assert_same_weights, ddp_and_one_process

COMMON = ["--data", "digits", "--no-progress", "--samples", "0", "--threads", "1", "--accelerator", "cpu"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [
        # 2 epochs of pretraining (one per layer), then 1 of fine-tuning; no corruption, no dropout:
        # their noise is drawn per rank, so only the noiseless schedule can match one process exactly
        ["stacked-ae", "--hidden", "16,8", "--pretrain-epochs", "1", "--corruption", "none", "--epochs", "3"],
        # 8x8 digits, two encoder layers: batch norm in the encoder's second layer and the decoder's first;
        # no mirroring (drawn per rank, like the corruption above), with skips
        [
            "context-encoder",
            "--hole",
            "4",
            "--channels",
            "4,4",
            "--disc-channels",
            "4",
            "--epochs",
            "2",
            "--no-flip",
            "--skips",
        ],
    ],
    ids=["stacked-ae", "context-encoder"],
)
def test_ddp_two_processes_match_one_process(tmp_path, model):
    metrics = ddp_and_one_process(tmp_path, "train", *model, *COMMON, "--select", "last")
    assert_same_weights(tmp_path)  # weights and batch-norm running statistics
    assert metrics["ddp"]["devices"] == 2 and metrics["ddp"]["steps"] == metrics["one"]["steps"]
