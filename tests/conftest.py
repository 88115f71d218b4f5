"""Shared fixtures: tests run on one thread (torch, and numpy's BLAS under scikit-learn); tiny
configs for the registry-driven checks."""

from __future__ import annotations

import pytest
import torch
from threadpoolctl import threadpool_limits  # a scikit-learn dependency

torch.set_num_threads(1)
threadpool_limits(1)  # on a busy 2-core machine, a 2-thread BLAS made one logistic regression take 47 s, not 0.1 s


@pytest.fixture
def run_dir(tmp_path):
    return tmp_path / "run"
