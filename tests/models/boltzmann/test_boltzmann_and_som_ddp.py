"""Two DDP processes (CLI, subprocess) end where one process ends: the RBM's and the SOM's statistics
are averaged by ``reduce`` and the persistent chains are the same on every rank."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

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


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "untaught", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [["rbm", "--binarize", "static", "--hidden", "12", "--chains", "20"], ["som", "--rows", "5", "--cols", "5"]],
    ids=["rbm", "som"],
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
    for name in a:  # weights, velocities, persistent chains, bounding boxes (infinite until used)
        torch.testing.assert_close(a[name].double(), b[name].double(), rtol=0, atol=1e-4, msg=name)
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert metrics["devices"] == 2
