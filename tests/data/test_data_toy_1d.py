"""1-D toy densities: registered as continuous [N, 1], fixed per split, and drawn from the density
their ``*_log_density`` states."""

import math

import pytest
import torch

from untaught.data import get_info, load_split
from untaught.data.toy import bimodal_log_density, skewed_log_density


@pytest.mark.parametrize(
    ("name", "log_density", "support"),
    [("bimodal-1d", bimodal_log_density, (-4.0, 5.0)), ("skewed-1d", skewed_log_density, (-1.0, 8.0))],
)
def test_one_dimensional_toys_follow_their_stated_density(name, log_density, support):
    info = get_info(name)
    assert info.shape == (1,) and info.levels is None
    train, again, test = load_split(name, "train"), load_split(name, "train"), load_split(name, "test")
    assert train.x.dtype == torch.float32 and train.x.shape == (info.sizes["train"], 1)
    assert torch.equal(train.x, again.x) and not torch.equal(train.x[:100], test.x[:100])
    # the stated density integrates to 1 and matches the histogram of the 20 000 training points
    grid = torch.linspace(*support, 20_001, dtype=torch.float64)
    assert float(torch.trapezoid(log_density(grid).exp(), grid)) == pytest.approx(1.0, abs=1e-3)
    counts = torch.histc(train.x.double().flatten(), bins=30, min=support[0], max=support[1])
    width = (support[1] - support[0]) / 30
    centres = support[0] + width * (torch.arange(30, dtype=torch.float64) + 0.5)
    expected = log_density(centres).exp() * width * len(train)
    seen = expected > 200  # bins with enough points for a 5-sigma Poisson check
    assert seen.sum() >= 8
    assert ((counts[seen] - expected[seen]).abs() < 5 * expected[seen].sqrt() + 0.02 * expected[seen]).all()
    # the test points' mean log-density is minus the density's entropy, up to sampling error
    p = log_density(grid).exp()
    entropy = -float(torch.trapezoid(torch.where(p > 0, p * p.clamp_min(1e-300).log(), 0.0), grid))
    lp = log_density(test.x)
    assert -float(lp.mean()) == pytest.approx(entropy, abs=4 * float(lp.std()) / math.sqrt(len(lp)))


def test_skewed_density_is_zero_left_of_its_edge():
    assert skewed_log_density(torch.tensor([[-1.5], [-1.0]])).eq(-math.inf).all()
    assert skewed_log_density(torch.tensor([-0.5])).isfinite().all()
