"""Flow training and sampling throughput: untaught against nflows, normflows and zuko, same run.

The same architecture and size in every library, on the same batches of dequantised, logit-
transformed digits (D = 64, continuous):

* MAF: 5 MADE layers with two hidden layers of 256 ReLU units, affine, order reversed between
  layers (nflows/normflows: ``MaskedAffineAutoregressiveTransform(64, 256, num_blocks=1,
  use_residual_blocks=False)`` + reversal; zuko: ``MAF(64, transforms=5, hidden_features=(256, 256))``).
* RealNVP: 6 affine couplings on alternating halves, MLP conditioners with two hidden layers of 256.
* Glow (untaught and normflows only; nflows and zuko have no Glow model): the same batches as
  1x8x8 images, 2 levels x 8 steps of actnorm, LU 1x1 convolution and affine coupling with
  ``sigmoid(h + 2)`` scale and Glow's conditioner (conv 3x3, conv 1x1, zero conv 3x3; 128 channels),
  half the channels factored out after the first level, standard normal base (normflows:
  ``MultiscaleFlow`` of ``GlowBlock(split_mode="channel")``, ``Squeeze``, ``Merge``, fixed ``DiagGaussian``).

Every library is timed with the same optimizer (Adam with ``fused=True``, as untaught's engine
builds it), so the comparison is of the flows, not of the optimizers. A training step is
``-log_prob(x).mean()``, backward, optimizer step (batch 256); sampling draws 1000 points under
``no_grad``. Rounds alternate between libraries; medians are reported with the ratio
untaught / fastest peer (> 1: untaught is faster).

    python bench/flows_throughput.py [--threads 2] [--steps 20] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from untaught.data import dequantize, load_split
from untaught.models.flows import MAF, Glow, RealNVP
from untaught.training.module import adam

D, H, LAYERS, COUPLINGS, BATCH, SAMPLES = 64, 256, 5, 6, 256, 1000
IMAGE, GLOW_LEVELS, GLOW_STEPS, GLOW_HIDDEN = (1, 8, 8), 2, 8, 128  # Glow sees each row of D as a 1x8x8 image


def digits_batches(steps: int) -> list[torch.Tensor]:
    x = load_split("digits", "train").x.flatten(1)
    gen = torch.Generator().manual_seed(0)
    out = []
    for _ in range(steps):
        rows = torch.randint(len(x), (BATCH,), generator=gen)
        y = dequantize(x[rows], 17, gen) * 0.9 + 0.05
        out.append(torch.log(y) - torch.log1p(-y))
    return out


# -- the models, one factory per library ------------------------------------------------------------
def ours_maf():
    model = MAF(MAF.Config(shape=(D,), levels=None, layers=LAYERS, hidden=(H, H)))
    return model, lambda x: model.loss(x)[0], lambda n: model.sample(n)


def ours_realnvp():
    model = RealNVP(RealNVP.Config(shape=(D,), levels=None, couplings=COUPLINGS // 2, hidden=H, blocks=2))
    return model, lambda x: model.loss(x)[0], lambda n: model.sample(n)


def ours_glow():
    model = Glow(Glow.Config(shape=IMAGE, levels=None, scales=GLOW_LEVELS, steps=GLOW_STEPS, hidden=GLOW_HIDDEN))
    return model, lambda x: model.loss(x.view(-1, *IMAGE))[0], lambda n: model.sample(n)


def zuko_maf():
    import zuko

    flow = zuko.flows.MAF(D, transforms=LAYERS, hidden_features=(H, H))
    return flow, lambda x: -flow().log_prob(x).mean(), lambda n: flow().sample((n,))


def zuko_realnvp():
    import zuko

    flow = zuko.flows.RealNVP(D, transforms=COUPLINGS, hidden_features=(H, H))
    return flow, lambda x: -flow().log_prob(x).mean(), lambda n: flow().sample((n,))


def _nflows(layers):
    from nflows.distributions import StandardNormal
    from nflows.flows import Flow
    from nflows.transforms import CompositeTransform

    flow = Flow(CompositeTransform(layers), StandardNormal([D]))
    return flow, lambda x: -flow.log_prob(x).mean(), lambda n: flow.sample(n)


def nflows_maf():
    from nflows.transforms import MaskedAffineAutoregressiveTransform, ReversePermutation

    layers = []
    for i in range(LAYERS):
        layers.append(MaskedAffineAutoregressiveTransform(D, H, num_blocks=1, use_residual_blocks=False))
        if i < LAYERS - 1:
            layers.append(ReversePermutation(D))
    return _nflows(layers)


class PlainMLP(torch.nn.Module):
    """in -> 256 -> 256 -> out, ReLU: the conditioner nflows' coupling calls as ``net(x, context)``."""

    def __init__(self, i: int, o: int) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(i, H), torch.nn.ReLU(), torch.nn.Linear(H, H), torch.nn.ReLU(), torch.nn.Linear(H, o)
        )

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x)


def nflows_realnvp():
    from nflows.transforms import AffineCouplingTransform

    masks = [torch.arange(D) % 2 == i % 2 for i in range(COUPLINGS)]
    return _nflows([AffineCouplingTransform(m.int(), PlainMLP) for m in masks])


def _normflows(flows):
    import normflows as nf

    model = nf.NormalizingFlow(nf.distributions.DiagGaussian(D, trainable=False), flows)
    return model, lambda x: model.forward_kld(x), lambda n: model.sample(n)[0]


def normflows_maf():
    import normflows as nf

    flows = []
    for i in range(LAYERS):
        flows.append(nf.flows.MaskedAffineAutoregressive(D, H, num_blocks=1, use_residual_blocks=False))
        if i < LAYERS - 1:
            flows.append(nf.flows.Permute(D, mode="swap"))
    return _normflows(flows)


def normflows_realnvp():
    import normflows as nf

    flows = []
    for _ in range(COUPLINGS):
        flows.append(nf.flows.AffineCouplingBlock(nf.nets.MLP([D // 2, H, H, D], init_zeros=True)))
        flows.append(nf.flows.Permute(D, mode="swap"))
    return _normflows(flows)


def normflows_glow():
    import normflows as nf

    c, side = IMAGE[0], IMAGE[1]
    flows, merges, q0 = [], [], []
    for i in range(GLOW_LEVELS):  # i = 0 is the coarsest level (normflows builds from the noise side)
        channels = c * 2 ** (GLOW_LEVELS + 1 - i)
        steps = [nf.flows.GlowBlock(channels, GLOW_HIDDEN, split_mode="channel") for _ in range(GLOW_STEPS)]
        flows.append([*steps, nf.flows.Squeeze()])
        if i == 0:
            latent = (c * 2 ** (GLOW_LEVELS + 1), side // 2**GLOW_LEVELS, side // 2**GLOW_LEVELS)
        else:
            merges.append(nf.flows.Merge())
            scale = 2 ** (GLOW_LEVELS - i)
            latent = (c * scale, side // scale, side // scale)
        q0.append(nf.distributions.DiagGaussian(latent, trainable=False))
    model = nf.MultiscaleFlow(q0, flows, merges, class_cond=False)
    return model, lambda x: model.forward_kld(x.view(-1, *IMAGE)), lambda n: model.sample(n)[0]


LIBRARIES = {
    "MAF": {"untaught": ours_maf, "nflows": nflows_maf, "normflows": normflows_maf, "zuko": zuko_maf},
    "RealNVP": {
        "untaught": ours_realnvp,
        "nflows": nflows_realnvp,
        "normflows": normflows_realnvp,
        "zuko": zuko_realnvp,
    },
    "Glow": {"untaught": ours_glow, "normflows": normflows_glow},
}


def parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())


def time_training(loss_fn, opt, batches) -> float:
    start = time.perf_counter()
    for x in batches:
        loss = loss_fn(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return len(batches) * BATCH / (time.perf_counter() - start)


def time_sampling(sample_fn) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        x = sample_fn(SAMPLES)
    assert x.reshape(SAMPLES, -1).shape == (SAMPLES, D) and torch.isfinite(x).all()
    return SAMPLES / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from importlib.metadata import version

    peers = ", ".join(f"{p} {version(p)}" for p in ("nflows", "normflows", "zuko"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {peers}")
    print(f"D={D}, batch {BATCH}, {args.steps} steps x {args.rounds} rounds; sampling {SAMPLES} points")
    batches = digits_batches(args.steps)
    for arch, libraries in LIBRARIES.items():
        built = {}
        for lib, factory in libraries.items():
            torch.manual_seed(0)
            model, loss_fn, sample_fn = factory()
            opt = adam(model.parameters(), lr=1e-4)
            time_training(loss_fn, opt, batches[:2])  # warm-up (and data-dependent initialisation)
            built[lib] = (model, loss_fn, sample_fn, opt)
        train = {lib: [] for lib in built}
        sample = {lib: [] for lib in built}
        for _ in range(args.rounds):
            for lib, (_, loss_fn, sample_fn, opt) in built.items():
                train[lib].append(time_training(loss_fn, opt, batches))
                sample[lib].append(time_sampling(sample_fn))
        print(f"\n{arch}")
        print(f"{'library':<10} {'params':>9} {'train samples/s':>16} {'sample points/s':>16}")
        for lib, (model, *_rest) in built.items():
            print(
                f"{lib:<10} {parameters(model):>9} {statistics.median(train[lib]):>16.0f} "
                f"{statistics.median(sample[lib]):>16.0f}"
            )
        peers = [lib for lib in built if lib != "untaught"]
        best_train = max(peers, key=lambda lib: statistics.median(train[lib]))
        best_sample = max(peers, key=lambda lib: statistics.median(sample[lib]))
        rt = statistics.median(train["untaught"]) / statistics.median(train[best_train])
        rs = statistics.median(sample["untaught"]) / statistics.median(sample[best_sample])
        print(f"untaught / fastest peer: training {rt:.2f}x ({best_train}), sampling {rs:.2f}x ({best_sample})")


if __name__ == "__main__":
    main()
