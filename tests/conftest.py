"""Shared fixtures: tests that train use one thread; tiny configs for the registry-driven checks."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)

# A tiny configuration of every registered model, on an enumerable space, for the protocol checks.
# A model registered without an entry here fails tests/test_protocol.py.
TINY = {
    "made": dict(hidden=(16, 16), num_masks=3, order_agnostic=True, ensemble=3),
}


@pytest.fixture
def run_dir(tmp_path):
    return tmp_path / "run"
