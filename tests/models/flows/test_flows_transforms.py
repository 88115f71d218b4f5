"""One test over every flow transform: shape, inversion, and log|det| against a brute-force Jacobian.

Each entry builds a transform (parameters perturbed away from their identity initialisation so that
nothing is trivially exact), an input domain and an optional context. Adding a transform = adding
one line to ``TRANSFORMS``. Everything runs in float64.
"""

from __future__ import annotations

import pytest
import torch
from torch.autograd.functional import jacobian

from untaught.models.flows.actnorm import ActNorm
from untaught.models.flows.autoregressive import MaskedAutoregressive
from untaught.models.flows.cdf import MixtureLogisticCDF, NormalQuantile
from untaught.models.flows.continuous import ContinuousFlow, Dynamics
from untaught.models.flows.coupling import Coupling, channel_mask, checkerboard_mask, half_mask
from untaught.models.flows.flowpp import AttentionNet, FlowPlusPlus
from untaught.models.flows.invconv import InvertibleConv1x1, LUInvertibleConv1x1
from untaught.models.flows.multiscale import MultiScale, Squeeze
from untaught.models.flows.transforms import Compose, Flatten, Inverse, Logit, Permutation, Scaling, Shift

K = 3  # context size for the conditional entries


def mixture_coupling(mask: torch.Tensor, context: int, heads: int = 2) -> Coupling:
    """Flow++'s coupling: 3 logistic components, an attention conditioner of 4 channels."""
    net = AttentionNet(Coupling.inputs(mask), 4, Coupling.outputs(mask, True, 3), 1, heads, context)
    return Coupling(mask, net, mixtures=3)


def dequantiser():
    """Flow++'s whole dequantisation flow (actnorm, 1x1 convolution, checkerboard mixture couplings),
    conditioned on a feature map of 3 channels."""
    fields = dict(shape=(2, 2, 4), levels=4, steps=(1, 0, 0), hidden=4, blocks=1, heads=2, dequant_steps=2, features=3)
    return FlowPlusPlus(FlowPlusPlus.Config(**fields)).dequantiser


def multiscale():
    blocks = [
        Compose(Squeeze(), Coupling.image(channel_mask((4, 2, 2), 0), 4, 1)),
        Compose(Coupling.image(checkerboard_mask((2, 2, 2), 1), 4), ActNorm(2)),
    ]
    return MultiScale(blocks, [(1, 4, 4), (4, 2, 2), (2, 2, 2)])


# name -> (factory, input shape, domain: 'real' or 'unit', context size K or a feature map's shape)
TRANSFORMS = {
    "permutation": (lambda: Permutation(torch.tensor([2, 0, 3, 1])), (4,), "real", 0),
    "reversal": (lambda: Permutation.reverse(4), (4,), "real", 0),
    "scaling": (lambda: Scaling((4,)), (4,), "real", 0),
    "logit": (lambda: Logit(0.05), (4,), "unit", 0),
    "shift": (lambda: Shift(-0.5), (4,), "real", 0),
    "flatten": (lambda: Flatten((2, 3)), (2, 3), "real", 0),
    "coupling-additive": (lambda: Coupling.vector(half_mask(5, 1), (8,), affine=False), (5,), "real", 0),
    "coupling-tanh-context": (lambda: Coupling.vector(half_mask(5, 0), (8, 8), K), (5,), "real", K),
    "coupling-sigmoid": (lambda: Coupling.vector(half_mask(4, 1), (8,), scale="sigmoid"), (4,), "real", 0),
    "coupling-interleaved": (lambda: Coupling.vector(torch.tensor([1, 0, 1, 0, 1]), (8,)), (5,), "real", 0),
    "coupling-exp": (lambda: Coupling.vector(half_mask(4, 0), (8,), scale="exp"), (4,), "real", 0),
    "coupling-checkerboard-context": (
        lambda: Coupling.image(checkerboard_mask((2, 3, 3), 1), 4, 1, K),
        (2, 3, 3),
        "real",
        K,
    ),
    "coupling-channel-context": (lambda: Coupling.image(channel_mask((4, 2, 2), 1), 4, 0, K), (4, 2, 2), "real", K),
    "coupling-mixture-vector-context": (lambda: Coupling.vector(half_mask(5, 1), (8,), K, mixtures=3), (5,), "real", K),
    "coupling-mixture-additive": (
        lambda: Coupling.vector(half_mask(4, 0), (8,), affine=False, mixtures=2),
        (4,),
        "real",
        0,
    ),
    "coupling-mixture-checkerboard-context": (
        lambda: mixture_coupling(checkerboard_mask((2, 3, 3), 0), K),
        (2, 3, 3),
        "real",
        K,
    ),
    "coupling-mixture-channel-feature-map": (
        lambda: mixture_coupling(channel_mask((4, 2, 2), 1), 3),
        (4, 2, 2),
        "real",
        (3, 2, 2),
    ),
    "flowpp-dequantiser": (dequantiser, (2, 2, 4), "real", (3, 2, 4)),
    "actnorm-vector": (lambda: ActNorm(4), (4,), "real", 0),
    "actnorm-image": (lambda: ActNorm(3), (3, 2, 2), "real", 0),
    "invconv-plain": (lambda: InvertibleConv1x1(3), (3, 2, 2), "real", 0),
    "invconv-lu": (lambda: LUInvertibleConv1x1(3), (3, 2, 2), "real", 0),
    "invconv-lu-vector": (lambda: LUInvertibleConv1x1(4), (4,), "real", 0),
    "squeeze": (Squeeze, (2, 4, 2), "real", 0),
    "multiscale": (multiscale, (1, 4, 4), "real", 0),
    "maf-context": (lambda: MaskedAutoregressive(4, (12, 12), torch.tensor([2, 0, 3, 1]), K), (4,), "real", K),
    "iaf": (lambda: Inverse(MaskedAutoregressive(4, (12,))), (4,), "real", 0),
    "mixture-logistic-cdf": (lambda: MixtureLogisticCDF(3, 4), (3,), "real", 0),
    "normal-quantile": (NormalQuantile, (3,), "unit", 0),
    "cnf-context": (
        lambda: ContinuousFlow(Dynamics(2, (8,), K), time=0.5, rtol=1e-9, atol=1e-9),
        (2,),
        "real",
        K,
    ),
    "compose": (
        lambda: Compose(ActNorm(4), LUInvertibleConv1x1(4), Coupling.vector(half_mask(4, 0), (8,)), Scaling((4,))),
        (4,),
        "real",
        0,
    ),
}


def build(name: str):
    factory, shape, domain, k = TRANSFORMS[name]
    torch.manual_seed(0)
    t = factory().double()
    with torch.no_grad():
        for p in t.parameters():
            p.add_(0.3 * torch.randn_like(p))
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(4, *shape, generator=gen, dtype=torch.float64)
    if domain == "unit":
        x = torch.sigmoid(x)
    context = torch.randn(4, *((k,) if isinstance(k, int) else k), generator=gen, dtype=torch.float64) if k else None
    t.eval()
    return t, x, context


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transform_inverts_and_log_det_matches_jacobian(name):
    t, x, context = build(name)
    y, ladj = t(x, context)
    assert ladj.shape == (len(x),) and y.shape[0] == len(x)
    assert y.numel() == x.numel(), "a flow keeps the number of dimensions"
    x_back, ladj_inv = t.inverse(y, context)
    torch.testing.assert_close(x_back, x, atol=1e-7, rtol=1e-7)
    torch.testing.assert_close(ladj_inv, -ladj, atol=1e-7, rtol=1e-7)
    for i in range(len(x)):
        c = None if context is None else context[i : i + 1]

        def f(flat, i=i, c=c):
            return t(flat.view(1, *x.shape[1:]), c)[0].flatten()

        jac = jacobian(f, x[i].flatten())
        assert not torch.allclose(jac, torch.eye(len(jac), dtype=jac.dtype)) or name in (
            "shift",
            "flatten",
        ), "the transform is the identity: the test would prove nothing"
        torch.testing.assert_close(ladj[i], torch.linalg.slogdet(jac)[1], atol=1e-6, rtol=1e-6)


def test_coupling_jacobian_is_block_triangular():
    t, x, _ = build("coupling-checkerboard-context")
    t.net.inp.weight.data.normal_()  # a non-trivial conditioner
    c = torch.randn(1, K, dtype=torch.float64)
    jac = jacobian(lambda v: t(v.view(1, 2, 3, 3), c)[0].flatten(), x[0].flatten())
    kept = t.mask.flatten().bool()
    assert torch.equal(jac[kept][:, kept], torch.eye(int(kept.sum()), dtype=jac.dtype))
    assert torch.all(jac[kept][:, ~kept] == 0)  # kept outputs ignore the transformed half
    assert torch.all(jac[~kept][:, ~kept] == torch.diag(torch.diagonal(jac[~kept][:, ~kept])))
    assert jac[~kept][:, kept].abs().sum() > 0


def test_maf_jacobian_is_triangular_in_its_order():
    order = torch.tensor([2, 0, 3, 1])
    t, x, context = build("maf-context")
    jac = jacobian(lambda v: t(v.view(1, 4), context[:1])[0].flatten(), x[0])
    for i in range(4):
        for j in range(4):
            if order[j] > order[i]:
                assert jac[i, j] == 0, f"output {i} depends on later input {j}"
    assert any(jac[i, j] != 0 for i in range(4) for j in range(4) if order[j] < order[i])


def test_actnorm_initialises_to_zero_mean_unit_variance_per_channel():
    layer = ActNorm(3).double().train()
    x = (
        5
        + 3
        * torch.randn(16, 3, 4, 4, dtype=torch.float64)
        * torch.tensor([1.0, 2.0, 0.1]).double()[None, :, None, None]
    )
    y, _ = layer(x)
    per_channel = y.transpose(0, 1).reshape(3, -1)
    torch.testing.assert_close(per_channel.mean(1), torch.zeros(3, dtype=torch.float64), atol=1e-10, rtol=0)
    torch.testing.assert_close(
        per_channel.var(1, unbiased=False), torch.ones(3, dtype=torch.float64), atol=1e-4, rtol=0
    )
    before = [p.clone() for p in layer.parameters()]
    layer(x * 7)  # initialised once only
    assert all(torch.equal(a, b) for a, b in zip(before, layer.parameters(), strict=True))


def test_lu_and_plain_invertible_convolutions_agree():
    torch.manual_seed(0)
    w = torch.randn(5, 5, dtype=torch.float64)
    plain, lu = InvertibleConv1x1(5, w).double(), LUInvertibleConv1x1(5, w).double()
    torch.testing.assert_close(lu.matrix(), w, atol=1e-12, rtol=0)
    x = torch.randn(3, 5, 4, 4, dtype=torch.float64)
    (y1, l1), (y2, l2) = plain(x), lu(x)
    torch.testing.assert_close(y1, y2, atol=1e-12, rtol=0)
    torch.testing.assert_close(l1, l2, atol=1e-10, rtol=0)
    torch.testing.assert_close(l1, torch.full((3,), 16 * torch.linalg.slogdet(w)[1].item(), dtype=torch.float64))
