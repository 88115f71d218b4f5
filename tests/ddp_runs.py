"""The same training run with two DDP processes and with one (CLI subprocesses), for tests that
check that DDP ends where one process ends."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file


def untaught_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m untaught ARGS``, output captured."""
    return subprocess.run([sys.executable, "-m", "untaught", *args], capture_output=True, text=True, timeout=timeout)


def ddp_and_one_process(folder: Path, *args: str) -> dict[str, dict[str, Any]]:
    """``untaught ARGS`` on 2 CPU processes (``folder/ddp``) and on one (``folder/one``): both metrics.json."""
    ddp = untaught_cli(*args, "--devices", "2", "--strategy", "ddp", "--out", str(folder / "ddp"))
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one = untaught_cli(*args, "--out", str(folder / "one"))
    assert one.returncode == 0, one.stderr[-3000:]
    return {run: json.loads((folder / run / "metrics.json").read_text()) for run in ("ddp", "one")}


def assert_same_weights(folder: Path, atol: float = 1e-4) -> None:
    """Every tensor of ``folder/ddp`` and ``folder/one``'s model.safetensors agrees to ``atol``."""
    a, b = load_file(folder / "ddp" / "model.safetensors"), load_file(folder / "one" / "model.safetensors")
    assert set(a) == set(b)
    for name in a:
        torch.testing.assert_close(a[name].double(), b[name].double(), rtol=0, atol=atol, msg=name)
