from __future__ import annotations

import math

import pytest
import torch

from untaught.data import (
    binarize_dynamic,
    binarize_static,
    dequantization_nats,
    dequantize,
    reduce_levels,
)


def all_levels(levels: int) -> torch.Tensor:
    return torch.arange(levels, dtype=torch.uint8).reshape(1, 1, 1, -1)


def test_binarize_static_thresholds_at_half_the_range():
    assert torch.equal(binarize_static(all_levels(256), 256), (all_levels(256) >= 128).byte())
    assert binarize_static(all_levels(17), 17).flatten().tolist() == [0] * 9 + [1] * 8
    assert torch.equal(binarize_static(all_levels(2), 2), all_levels(2))


def test_binarize_dynamic_frequencies_match_p_and_are_reproducible():
    levels, draws = 5, 20000
    x = torch.arange(levels, dtype=torch.uint8).repeat(draws, 1)  # [draws, levels]
    b = binarize_dynamic(x, levels, torch.Generator().manual_seed(0))
    assert b.dtype == torch.uint8 and set(b.unique().tolist()) <= {0, 1}
    freq = b.float().mean(0)
    p = torch.arange(levels) / (levels - 1)
    assert torch.allclose(freq, p, atol=0.015)  # ~4 standard errors at p = 0.5
    assert freq[0] == 0 and freq[-1] == 1
    assert torch.equal(b, binarize_dynamic(x, levels, torch.Generator().manual_seed(0)))


def test_reduce_levels_floors_into_the_new_range():
    out = reduce_levels(all_levels(256), 256, 4).flatten()
    assert out.dtype == torch.uint8
    assert out.tolist() == [0] * 64 + [1] * 64 + [2] * 64 + [3] * 64
    out = reduce_levels(all_levels(17), 17, 5).flatten()
    assert out.tolist() == [(v * 5) // 17 for v in range(17)]
    assert int(out.max()) == 4


def test_dequantize_stays_in_the_cube_of_each_level():
    levels = 256
    x = all_levels(levels).repeat(50, 1, 1, 1)
    y = dequantize(x, levels, torch.Generator().manual_seed(0))
    assert y.dtype == torch.float32 and y.shape == x.shape
    xf = x.float()
    assert (y >= xf / levels).all() and (y < (xf + 1) / levels).all()
    assert (y >= 0).all() and (y < 1).all()
    assert torch.equal(y, dequantize(x, levels, torch.Generator().manual_seed(0)))


def test_dequantize_keeps_the_interval_open_when_u_rounds_up(monkeypatch):
    x = all_levels(256)
    monkeypatch.setattr(torch, "rand", lambda shape, **kw: torch.full(shape, 1 - 2**-24))
    y = dequantize(x, 256, None)
    assert (y < (x.float() + 1) / 256).all() and float(y.max()) < 1.0


def test_dequantization_nats_matches_a_uniform_model():
    dims, levels = 784, 256
    assert dequantization_nats(dims, levels) == pytest.approx(dims * math.log(levels))
    # the uniform density on [0,1)^D has -log p(y) = 0; the uniform discrete model has
    # -log P(x) = D log(levels): the correction must bridge exactly that gap
    assert 0.0 + dequantization_nats(dims, levels) == pytest.approx(-math.log(levels**-1) * dims)
    with pytest.raises(ValueError, match="dims must be an int >= 1; got 0"):
        dequantization_nats(0, 256)


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: binarize_static(torch.zeros(2), 256), TypeError, "x must be a torch.uint8 tensor; got torch.float32"),
        (lambda: binarize_static([1, 2], 256), TypeError, "got list"),
        (
            lambda: binarize_dynamic(all_levels(17), 16, None),
            ValueError,
            "x must lie in \\[0, 15\\] for levels=16; got max 16",
        ),
        (lambda: reduce_levels(all_levels(4), 4, 8), ValueError, "new_levels must be an int in \\[2, 4\\]; got 8"),
        (lambda: dequantize(all_levels(2), 1, None), ValueError, "levels must be an int in \\[2, 256\\]; got 1"),
        (lambda: dequantize(all_levels(2), 2.0, None), ValueError, "got 2.0"),
    ],
)
def test_transforms_validate_their_inputs(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
