"""PixelCNN++: the RGB logistic mixture equals the paper's joint mixture, the two streams see the
whole causal field through down- and up-sampling (odd sizes too), dropout follows the training
step's generator, and the model trains through the engine. The registry-wide properties
(normalisation, Jacobian causality, cached = naive sampling) are in test_ar_properties.py."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from untaught.distributions import logistic_mixture
from untaught.models.autoregressive.conditionals import generation_order
from untaught.models.autoregressive.pixelcnn_pp import PixelCNNPP, PixelCNNPPConfig


def _joint_by_components(params: torch.Tensor, x: torch.Tensor, levels: int) -> torch.Tensor:
    """The paper's formula term by term: log sum_k pi_k prod_c P(x_c | mean_ck, s_ck), with
    mean_G = mu_G + tanh(a) R and mean_B = mu_B + tanh(b) R + tanh(g) G (x in [-1, 1]).
    params [10 K] for one RGB pixel; x [N, 3] levels -> [N]."""
    k = params.shape[0] // 10
    logits, mu, log_s, coef = params.split([k, 3 * k, 3 * k, 3 * k])
    mu, log_s = mu.view(3, k), log_s.view(3, k)
    a, b, g = torch.tanh(coef).view(3, k)
    v = 2 * x.double() / (levels - 1) - 1  # [N, 3]
    means = [mu[0].expand(len(x), k), mu[1] + a * v[:, :1], mu[2] + b * v[:, :1] + g * v[:, 1:2]]
    total = torch.log_softmax(logits, 0).expand(len(x), k)
    for c in range(3):
        one = torch.stack([torch.zeros_like(means[c]), means[c], log_s[c].expand(len(x), k)], -1)  # K = 1 each
        total = total + logistic_mixture.log_prob(one, x[:, c : c + 1].expand(len(x), k), levels)
    return torch.logsumexp(total, -1)


def test_channel_conditionals_multiply_to_the_papers_rgb_mixture():
    levels, k = 5, 3
    params = torch.randn(10 * k, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 1.5
    x = torch.tensor(list(itertools.product(range(levels), repeat=3)))  # every RGB value [125, 3]
    conds = logistic_mixture.channel_conditionals(params.expand(len(x), -1), x.double(), levels)  # [125, 3, 3K]
    chained = logistic_mixture.log_prob(conds, x, levels).sum(-1)
    assert torch.allclose(chained, _joint_by_components(params, x, levels), atol=1e-12)
    assert torch.logsumexp(chained, 0).item() == pytest.approx(0.0, abs=1e-12)
    # G's conditional moves with R (its mean and its mixture weights); R's does not depend on anything
    assert not torch.equal(conds[0, 1], conds[-1, 1]) and torch.equal(conds[0, 0], conds[-1, 0])


def test_channel_conditionals_reject_a_wrong_parameter_count():
    with pytest.raises(ValueError, match=r"K x 10"):
        logistic_mixture.channel_conditionals(torch.zeros(4, 9), torch.zeros(4, 3), 256)
    assert logistic_mixture.joint_params(10, 3) == 100 and logistic_mixture.joint_params(5, 1) == 15


def _jacobian(model: PixelCNNPP) -> torch.Tensor:
    shape = tuple(model.config.shape)
    d = math.prod(shape)
    h = torch.rand(1, *shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: model.conditionals(v), h)
    return jac.reshape(d, -1, d).abs().sum(1)


@pytest.mark.parametrize(("shape", "scales"), [((1, 8, 8), 3), ((1, 7, 5), 3), ((3, 4, 4), 2)])
def test_whole_causal_field_through_down_and_up_sampling(shape, scales):
    torch.manual_seed(0)
    model = PixelCNNPP(PixelCNNPPConfig(shape=shape, levels=4, channels=4, resnets=2, scales=scales, mixtures=2))
    jac = _jacobian(model.double().eval())
    pos = generation_order(shape)
    before = pos[None, :] < pos[:, None]
    assert (jac[~before] == 0).all(), "a conditional depends on its own or a later sub-pixel"
    assert (jac[before] > 0).all(), "a blind spot: a conditional ignores an earlier sub-pixel"


def test_one_resolution_has_a_bounded_field():
    """Without down-sampling one block per stream reaches only a few columns: (1, 0) misses (0, 6)."""
    torch.manual_seed(0)
    model = PixelCNNPP(PixelCNNPPConfig(shape=(1, 3, 8), levels=4, channels=4, resnets=1, scales=1, mixtures=2))
    jac = _jacobian(model.double().eval()).view(3, 8, 3, 8)
    assert jac[1, 0, 0, 6] == 0 and jac[1, 0, 0, 2] > 0
    wide = PixelCNNPP(PixelCNNPPConfig(shape=(1, 3, 8), levels=4, channels=4, resnets=1, scales=3, mixtures=2))
    assert _jacobian(wide.double().eval()).view(3, 8, 3, 8)[1, 0, 0, 6] > 0  # the coarse scales reach it


def test_dropout_masks_follow_the_generator():
    torch.manual_seed(0)
    model = PixelCNNPP(PixelCNNPPConfig(shape=(1, 4, 4), levels=4, channels=4, resnets=1, scales=2, mixtures=2))
    x = torch.randint(4, (3, 1, 4, 4), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    model.train()
    first = model.loss(x, generator=torch.Generator().manual_seed(1))[0]
    again = model.loss(x, generator=torch.Generator().manual_seed(1))[0]
    other = model.loss(x, generator=torch.Generator().manual_seed(2))[0]
    assert first.item() == again.item() and first.item() != other.item()
    exact = model.log_prob(x)  # training mode, but log_prob never drops units
    model.eval()
    assert torch.equal(model.log_prob(x), exact)
    assert model.loss(x)[0].item() == pytest.approx(-exact.mean().item())
    off = PixelCNNPP(PixelCNNPPConfig(shape=(1, 4, 4), levels=4, channels=4, resnets=1, scales=2, dropout=0.0))
    off.train()
    assert off.loss(x, generator=torch.Generator().manual_seed(1))[0].item() == pytest.approx(
        off.loss(x, generator=torch.Generator().manual_seed(2))[0].item()
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("mixtures", 0, "mixtures must be"), ("scales", 0, "scales must be"), ("dropout", 1.0, "dropout must be")],
)
def test_config_errors(field, value, message):
    with pytest.raises(ValueError, match=message):
        PixelCNNPPConfig(**{field: value})
    with pytest.raises(ValueError, match=r"shape must be \(C, H, W\)"):
        PixelCNNPPConfig(shape=(64,))


def test_cifar10_shape_trains_a_step():
    """The CIFAR-10 data shape (3x32x32, 256 levels), three resolutions: a finite loss near 8 bits/dim
    at initialisation, gradients for every parameter."""
    torch.manual_seed(0)
    model = PixelCNNPP(PixelCNNPPConfig(shape=(3, 32, 32), levels=256, channels=8, resnets=1, mixtures=3))
    x = torch.randint(256, (2, 3, 32, 32), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    loss, metrics = model.loss(x, generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and 6 < metrics["bpd"].item() < 12
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_trains_through_the_engine_on_digits(tmp_path):
    import untaught

    torch.manual_seed(0)
    model = PixelCNNPP(PixelCNNPPConfig(shape=(1, 8, 8), levels=17, channels=8, resnets=1, mixtures=2))
    run = untaught.train(model, "digits", out=tmp_path / "run", epochs=2, progress=False, samples=4, threads=1)
    assert run.metrics["epochs"] == 2 and math.isfinite(run.metrics["test_nll_nats"])
    assert (run.path / "samples.png").is_file()
    loaded = PixelCNNPP.from_pretrained(run.path)
    x = untaught.data.load_split("digits", "test").x[:5]
    assert torch.equal(loaded.log_prob(x), run.model.eval().log_prob(x))
