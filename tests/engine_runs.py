"""Training runs that tests compare: resumed against uninterrupted (in process), and two DDP
processes against one (CLI subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

import untaught
from untaught.training import Run, resume


def whole_and_resumed(
    folder: Path, model: Callable[[], torch.nn.Module], data: Any, *, epochs: int, first: int, **options: Any
) -> tuple[Run, Run]:
    """``model()`` trained for ``epochs`` in one run (``folder/whole``), and trained for ``first``
    epochs then resumed to ``epochs`` (``folder/parts``)."""
    whole = untaught.train(model(), data, out=folder / "whole", epochs=epochs, **options)
    untaught.train(model(), data, out=folder / "parts", epochs=first, **options)
    return whole, resume(folder / "parts", epochs=epochs, progress=False)


def assert_same_state(a: torch.nn.Module, b: torch.nn.Module) -> None:
    """Every entry of the two state dicts is equal to the bit (weights, buffers, chains)."""
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), name


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
