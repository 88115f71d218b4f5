"""Two DDP processes (CLI, subprocess) end where one process ends, for a model that trains in phases
(stacked-ae: greedy pretraining, then fine-tuning with labels) and for the context encoder, whose
batch norm pools its statistics over the ranks and whose discriminator trains in the same loss."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

COMMON = ["--data", "digits", "--no-progress", "--samples", "0", "--threads", "1", "--accelerator", "cpu"]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "untaught", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [
        # 2 epochs of pretraining (one per layer), then 1 of fine-tuning; no corruption, no dropout:
        # their noise is drawn per rank, so only the noiseless schedule can match one process exactly
        ["stacked-ae", "--hidden", "16,8", "--pretrain-epochs", "1", "--corruption", "none", "--epochs", "3"],
        # 8x8 digits, two encoder layers: batch norm in the encoder's second layer and the decoder's first
        ["context-encoder", "--hole", "4", "--channels", "4,4", "--disc-channels", "4", "--epochs", "2"],
    ],
    ids=["stacked-ae", "context-encoder"],
)
def test_ddp_two_processes_match_one_process(tmp_path, model):
    args = ["train", *model, *COMMON, "--select", "last"]
    ddp = cli(*args, "--devices", "2", "--strategy", "ddp", "--out", str(tmp_path / "ddp"))
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one = cli(*args, "--out", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr[-3000:]
    a = load_file(tmp_path / "ddp" / "model.safetensors")
    b = load_file(tmp_path / "one" / "model.safetensors")
    assert set(a) == set(b)
    for name in a:  # weights and batch-norm running statistics
        torch.testing.assert_close(a[name].double(), b[name].double(), rtol=0, atol=1e-4, msg=name)
    metrics = {run: json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("ddp", "one")}
    assert metrics["ddp"]["devices"] == 2 and metrics["ddp"]["steps"] == metrics["one"]["steps"]
