"""Properties of every registered flow model, and of the things only flows have.

Every flow built tiny (its entry in tests/tiny_configs.py, parameters perturbed off the identity):
decode(encode(x)) == x, and log_prob equals the base log-density plus log|det| of a brute-force
Jacobian (discrete data: of the dequantised point, minus log q of the dequantisation: D log(levels)
for uniform noise, Flow++'s variational q against its own brute-force Jacobian). 1-D and 2-D flows
integrate to one on a grid; the uniform and variational dequantisation bounds are checked against
the exact discrete probabilities of enumerable models; FFJORD's exact-trace likelihood against a
linear field's closed form.
"""

from __future__ import annotations

import math

import pytest
import torch
from tiny_configs import TINY
from torch.autograd.functional import jacobian

from untaught.data import dequantize
from untaught.models.flows import Flow
from untaught.models.flows.continuous import ContinuousFlow
from untaught.registry import get_model_class, model_names

FLOWS = [n for n in model_names() if issubclass(get_model_class(n), Flow)]


def build(name: str, scale: float = 0.3, **fields) -> Flow:
    torch.manual_seed(0)
    cls = get_model_class(name)
    model = cls(cls.Config(**{**TINY[name], **fields})).double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))
    return model.eval()


def data(model: Flow, n: int = 4) -> torch.Tensor:
    gen = torch.Generator().manual_seed(3)
    shape, levels = tuple(model.config.shape), model.config.levels
    if levels is None:
        return torch.randn(n, *shape, generator=gen, dtype=torch.float64)
    return torch.randint(levels, (n, *shape), generator=gen).to(torch.uint8)


def test_every_flow_is_tested():
    assert set(FLOWS) >= {"cdf-flow", "nice", "realnvp", "glow", "flow++", "maf", "iaf", "ffjord"}


@pytest.mark.parametrize("name", FLOWS)
def test_decode_inverts_encode(name):
    model = build(name)
    x = data(model)
    z = model.encode(x)
    assert z.shape == (len(x), model.config.dims)
    back = model.decode(z)
    if model.config.levels is None:
        torch.testing.assert_close(back, x, atol=1e-6, rtol=1e-6)
    else:
        assert back.dtype == torch.uint8 and torch.equal(back, x)


@pytest.mark.parametrize("name", FLOWS)
def test_log_prob_is_base_density_plus_brute_force_log_det(name):
    model = build(name)
    x = data(model)
    levels, dims = model.config.levels, model.config.dims
    if levels is None:
        y, log_q = x, torch.zeros(len(x), dtype=torch.float64)
        lp = model.log_prob(x)
    else:
        y, log_q = model.dequantise(x, torch.Generator().manual_seed(7))
        lp = model.log_prob(x, generator=torch.Generator().manual_seed(7))
        if type(model).dequantise is Flow.dequantise:  # uniform: the data module's dequantisation
            torch.testing.assert_close(y, dequantize(x, levels, torch.Generator().manual_seed(7)).double())
            torch.testing.assert_close(log_q, torch.full((len(x),), dims * math.log(levels), dtype=torch.float64))
    for i in range(len(x)):
        jac = jacobian(lambda v: model.latent(v.view(1, *model.config.shape), None)[0].flatten(), y[i].flatten())
        z = model.latent(y[i : i + 1], None)[0]
        expected = model.base_log_prob(z)[0] + torch.linalg.slogdet(jac)[1] - log_q[i]
        torch.testing.assert_close(lp[i], expected, atol=1e-6, rtol=1e-6)
    assert model.log_prob_kind == ("exact" if levels is None else "lower bound")


def _grid_integral(model: Flow, half_width: float, n: int) -> float:
    axis = torch.linspace(-half_width, half_width, n, dtype=torch.float64)
    step = float(axis[1] - axis[0])
    if model.config.dims == 1:
        return float(torch.trapezoid(model.log_prob(axis[:, None]).exp(), dx=step).detach())
    points = torch.cartesian_prod(axis, axis)
    density = model.log_prob(points).exp().view(n, n)
    return float(torch.trapezoid(torch.trapezoid(density, dx=step), dx=step))


@pytest.mark.parametrize("name", FLOWS)
def test_one_and_two_dimensional_densities_integrate_to_one(name):
    dims = 1 if name == "cdf-flow" else 2
    model = build(name, scale=0.1, shape=(dims,), levels=None)
    assert _grid_integral(model, 9.0, 2001 if dims == 1 else 181) == pytest.approx(1.0, abs=2e-3)


def _cells(model: Flow, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every data point x of a discrete model of one or two variables [N, *shape], the exact
    log P(x) = log of the integral of the flow's density over x's cell [N], and the cell's mean
    log-density [N] (E_u log p(y) for uniform u), by the midpoint rule on n points per variable."""
    levels, dims, shape = model.config.levels, model.config.dims, tuple(model.config.shape)
    axis = torch.arange(levels, dtype=torch.float64)
    offsets = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    xs = (axis[:, None] if dims == 1 else torch.cartesian_prod(axis, axis)).view(-1, *shape)
    grid = (offsets[:, None] if dims == 1 else torch.cartesian_prod(offsets, offsets)).view(-1, *shape)
    exact, means = [], []
    for x in xs:
        z, ladj = model.latent((x + grid) / levels, None)
        log_density = (model.base_log_prob(z) + ladj).detach()
        exact.append(torch.logsumexp(log_density, 0) - math.log(len(grid)) - dims * math.log(levels))
        means.append(log_density.mean())
    return xs.to(torch.uint8), torch.stack(exact), torch.stack(means)


def test_dequantised_log_prob_bounds_the_exact_discrete_probability():
    """Uniform dequantisation, 1-D MAF on 8 levels: P(x) = integral of p over x's cell on a fine grid."""
    model = build("maf", shape=(1,), levels=8, preprocess="logit")
    levels = 8
    xs, exact, means = _cells(model, 4000)
    bound = means - math.log(levels)  # E_u[log p(y)] - log(levels)
    # the cells cover [0, 1), which the logit maps onto [logit(0.05), logit(0.95)]: P sums to the flow's
    # mass on that interval (at most one; dequantised flows are sub-normalised, so the bound stays honest)
    edge = math.log(0.95 / 0.05)
    v = torch.linspace(-edge, edge, 200001, dtype=torch.float64)[:, None]
    z, ladj = model.transform(v, None)
    mass = float(torch.trapezoid((model.base_log_prob(z) + ladj).exp(), dx=2 * edge / 200000))
    assert float(exact.exp().sum()) == pytest.approx(mass, abs=1e-6) and mass < 1
    assert torch.all(bound < exact)  # Jensen: the single-draw bound is below, in expectation
    single = torch.stack([model.log_prob(xs, generator=torch.Generator().manual_seed(s)) for s in range(400)]).detach()
    assert torch.all((single.mean(0) - bound).abs() < 4 * single.std(0) / 20 + 1e-9)  # log_prob draws that bound
    tight = model.log_prob(xs, samples=4000)
    torch.testing.assert_close(tight, exact, atol=1.5e-2, rtol=0)  # importance-weighted: converges


def test_variational_dequantisation_bounds_the_exact_discrete_probability():
    """Flow++'s learned q(y | x) on a two-pixel image of 3 levels (9 points): E_q[log p(y) - log q(y | x)]
    lies below the exact log P(x) (2-D cell integrals) by KL(q || p(. | cell)), and importance
    weighting tightens it without crossing log P(x)."""
    model = build("flow++", scale=0.1, shape=(1, 1, 2), levels=3, steps=(2, 0, 0), dequant_steps=2)
    xs, exact, _ = _cells(model, 120)
    assert float(exact.exp().sum()) < 1
    draws = 200
    single = torch.stack([model.log_prob(xs, generator=torch.Generator().manual_seed(s)) for s in range(draws)])
    bound, stderr = single.detach().mean(0), single.detach().std(0) / math.sqrt(draws)
    assert torch.all(bound + 4 * stderr < exact)  # below, beyond its Monte Carlo error
    tight = model.log_prob(xs, samples=500).detach()
    assert torch.all(tight > bound) and torch.all(tight < exact + 0.02)
    assert float((exact - tight).sum()) < 0.5 * float((exact - bound).sum())  # more than half the gap closed


def test_variational_dequantisation_density_matches_its_brute_force_jacobian():
    """y = (x + sigmoid(g(eps; h(x)))) / levels lies in x's cell, and log q(y | x) = log N(eps) - log|det dy/deps|."""
    saturated = build("flow++")  # large weights: some sigmoid(v) round to 1, and y must stay below the next cell
    x = data(saturated)
    y = saturated.dequantise(x, torch.Generator().manual_seed(7))[0]
    assert torch.equal((y * saturated.config.levels).floor().to(torch.uint8), x)
    model = build("flow++", scale=0.1)
    levels, shape = model.config.levels, tuple(model.config.shape)
    y, log_q = model.dequantise(x, torch.Generator().manual_seed(7))
    eps = torch.randn(x.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)  # dequantise's draws
    features = model.features((x.double() + 0.5) / levels - 0.5)
    for i in range(len(x)):

        def noise_to_data(e, i=i):
            v = model.dequantiser(e.view(1, *shape), features[i : i + 1])[0]
            return ((x[i] + torch.sigmoid(v)) / levels).flatten()

        torch.testing.assert_close(noise_to_data(eps[i].flatten()), y[i].flatten())
        jac = jacobian(noise_to_data, eps[i].flatten())
        log_normal = -0.5 * (eps[i].pow(2).sum() + eps[i].numel() * math.log(2 * math.pi))
        torch.testing.assert_close(log_q[i], log_normal - torch.linalg.slogdet(jac)[1], atol=1e-8, rtol=1e-8)


class LinearField(torch.nn.Module):
    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = torch.nn.Parameter(a)

    def forward(self, t, z, context=None):
        return z @ self.a.T


def test_ffjord_exact_trace_matches_a_linear_field():
    """dz/dt = A z: z(T) = expm(A T) x and log|det| = T tr(A); the CNF's ODE solve and exact trace agree,
    and so does the discretised change of variables sum_k log|det(I + h A)|."""
    torch.manual_seed(0)
    a = torch.randn(3, 3, dtype=torch.float64)
    cnf = ContinuousFlow(LinearField(a), time=0.7, rtol=1e-10, atol=1e-10)
    x = torch.randn(5, 3, dtype=torch.float64)
    z, ladj = cnf(x)
    torch.testing.assert_close(z, x @ torch.linalg.matrix_exp(0.7 * a).T, atol=1e-8, rtol=1e-8)
    torch.testing.assert_close(ladj, torch.full((5,), 0.7 * float(torch.trace(a)), dtype=torch.float64))
    steps = 20000
    euler = steps * torch.linalg.slogdet(torch.eye(3, dtype=torch.float64) + 0.7 / steps * a)[1]
    assert float(ladj[0]) == pytest.approx(float(euler), abs=1e-3)
    # Hutchinson's estimate is unbiased: averaged over many Rademacher draws it approaches the trace
    cnf.noise = (2 * torch.randint(0, 2, (4000, 3)) - 1).double()
    _, estimate = cnf(torch.randn(4000, 3, dtype=torch.float64))
    assert float(estimate.mean()) == pytest.approx(0.7 * float(torch.trace(a)), abs=0.1)


def test_a_latent_beyond_the_float_range_has_log_prob_minus_infinity():
    # IAF's density direction multiplies by exp(log-scale) in every layer: with log-scales of 40 a
    # point overflows float32 in the third layer, and the next masked layer turns inf into NaN
    cls = get_model_class("iaf")
    torch.manual_seed(0)
    model = cls(cls.Config(shape=(2,), levels=None, layers=4, hidden=(8,)))
    with torch.no_grad():
        for layer in model.modules():
            if hasattr(layer, "out") and hasattr(layer, "order"):
                layer.out.weight.normal_(0, 0.1)
                layer.out.bias.view(2, 2)[:, 1] = 40.0  # (shift, log-scale) per dimension
        x = torch.tensor([[1.0, -1.0], [0.0, 1e-30]])
        assert not torch.isfinite(model.encode(x)).all()
        assert torch.equal(model.log_prob(x), torch.full((2,), -math.inf))


def test_temperature_scales_the_base_draws_and_interpolation_ends_at_the_inputs():
    model = build("glow", scale=0.05)
    z = model.base_sample(6, 1.0, torch.Generator().manual_seed(5))
    cold = model.sample(6, temperature=0.5, generator=torch.Generator().manual_seed(5))
    assert torch.equal(cold, model.decode(0.5 * z))
    x = data(model, 2)
    path = model.interpolate(x[0], x[1], steps=5)
    assert path.shape == (5, *model.config.shape)
    assert torch.equal(path[0], x[0]) and torch.equal(path[-1], x[1])


def test_class_conditional_flow_needs_and_uses_labels():
    model = build("realnvp", shape=(2,), levels=None, num_classes=3, couplings=2, hidden=8)
    x = torch.randn(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="class-conditional"):
        model.log_prob(x)
    with pytest.raises(ValueError, match=r"labels in \[0, 3\)"):
        model.log_prob(x, condition=torch.tensor([0, 1, 2, 3]))
    a = model.log_prob(x, condition=torch.zeros(4, dtype=torch.long))
    b = model.log_prob(x, condition=torch.full((4,), 2))
    assert not torch.allclose(a, b)
    gen = torch.Generator().manual_seed(0)
    z = model.base_sample(6, 1.0, gen)
    cycled = model.sample(6, generator=torch.Generator().manual_seed(0))  # classes 0, 1, 2, 0, 1, 2
    torch.testing.assert_close(cycled, model.decode(z, condition=torch.arange(6) % 3))
    for label in range(3):  # every class's density normalises
        axis = torch.linspace(-9, 9, 181, dtype=torch.float64)
        pts = torch.cartesian_prod(axis, axis)
        dens = model.log_prob(pts, condition=torch.full((len(pts),), label)).exp().view(181, 181)
        step = float(axis[1] - axis[0])
        assert float(torch.trapezoid(torch.trapezoid(dens, dx=step), dx=step)) == pytest.approx(1.0, abs=2e-3)


def test_config_errors_name_the_argument():
    cls = get_model_class("glow")
    with pytest.raises(ValueError, match="divisible by 4"):
        cls.Config(shape=(1, 6, 6), levels=17, scales=2)
    with pytest.raises(ValueError, match="preprocess"):
        cls.Config(preprocess="sqrt")
    with pytest.raises(ValueError, match="levels must be None"):
        get_model_class("cdf-flow").Config(levels=17)
    flowpp = get_model_class("flow++")
    with pytest.raises(ValueError, match=r"steps must be 3 counts"):
        flowpp.Config(steps=(4, 2))
    with pytest.raises(ValueError, match="divisible by 4"):
        flowpp.Config(shape=(1, 6, 6), levels=17, scales=2)
    with pytest.raises(ValueError, match="heads must be"):
        flowpp.Config(hidden=30, heads=4)
    with pytest.raises(ValueError, match="iwae_k must be"):
        flowpp.Config(iwae_k=0)
