"""WaveNet: normalisation over every short sequence, the exact causal receptive field from
Jacobians, Fast-WaveNet sampling equal to naive sampling, and the python-chars sequence data."""

from __future__ import annotations

import itertools

import pytest
import torch

from untaught.data import get_info, load_split
from untaught.models.autoregressive.wavenet import WaveNet, WaveNetConfig


def wavenet(length=6, levels=3, **kw) -> WaveNet:
    torch.manual_seed(0)
    m = WaveNet(WaveNetConfig(shape=(1, 1, length), levels=levels, **{"layers": 3, "cycle": 2, "channels": 6, **kw}))
    m = m.double()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    return m.eval()


@pytest.mark.parametrize(("length", "levels"), [(6, 3), (10, 2)])
def test_probabilities_sum_to_one(length, levels):
    m = wavenet(length, levels)
    x = torch.tensor(list(itertools.product(range(levels), repeat=length)), dtype=torch.uint8).view(-1, 1, 1, length)
    assert torch.logsumexp(m.log_prob(x), 0).item() == pytest.approx(0.0, abs=1e-9)


def test_receptive_field_is_causal_and_exact():
    m = wavenet(16, 4, layers=3, cycle=3, kernel=2, channels=16)  # shift 1 + input 1 + dilations 1, 2, 4
    assert m.receptive_field == 9
    jac = 0
    for seed in range(3):  # a few inputs, so that no dependency hides behind an inactive ReLU
        h = torch.rand(1, 1, 1, 16, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        jac = jac + torch.autograd.functional.jacobian(m.conditionals, h).reshape(16, -1, 16).abs().sum(1)
    t, j = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    inside = (j < t) & (j >= t - 9)
    assert (jac[~inside] == 0).all() and (jac[inside] > 0).all()


def test_cached_sampling_equals_naive_sampling_and_completion():
    m = wavenet(20, 5, layers=4, cycle=2, kernel=3)
    fast = m.sample(7, generator=torch.Generator().manual_seed(1))
    assert torch.equal(fast, m.sample(7, generator=torch.Generator().manual_seed(1), fast=False))
    given = torch.randint(5, (7, 1, 1, 20), generator=torch.Generator().manual_seed(2)).to(torch.uint8)
    done = m.sample(7, given=given, known=8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(done[..., :8], given[..., :8])
    assert torch.equal(done, m.sample(7, given=given, known=8, generator=torch.Generator().manual_seed(3), fast=False))


def test_python_chars_is_ascii_text_in_disjoint_splits():
    info = get_info("python-chars")
    assert info.shape == (1, 1, 64) and info.levels == 128 and info.offline(None)
    train, test = load_split("python-chars", "train"), load_split("python-chars", "test")
    assert len(train) == info.sizes["train"] and int(train.x.max()) < 128
    text = bytes(test.x[0, 0, 0].tolist()).decode("ascii")
    assert len(text) == 64
    rows = {bytes(r.tolist()) for r in train.x.view(-1, 64)}
    assert sum(bytes(r.tolist()) in rows for r in test.x.view(-1, 64)) < len(test) // 10  # no shared files
