"""MADE training throughput (images/s) at the sizes of EugenHotaj/pytorch-generative's MADE.

pytorch-generative trains MADE with input 784, one hidden layer of 8000 units, one mask, batch 64,
Adam, on binarised MNIST. It is not on PyPI, so its training step is re-created here from its
published design (``weight.data *= mask`` before an ``nn.Linear`` call, ReLU, sigmoid outputs,
``binary_cross_entropy_with_logits`` on them as its ``reproduce`` does, Adam) and timed side by side
with untaught's MADE on the same binarised Fashion-MNIST batches, alternating rounds, same threads.

    python bench/made_throughput.py [--threads 2] [--steps 30] [--rounds 5]

The peer's step uses plain ``torch.optim.Adam`` as its code does; untaught's uses the optimizer its
engine builds (Adam with ``fused=True`` where supported), which is where most of the gain comes from.
Prints images/s of each and their ratio (untaught / peer; > 1 means untaught is faster), plus the
throughput of untaught's whole engine (Lightning loop, data pipeline) on the same model.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from untaught.data import binarize_static, load_split
from untaught.models import MADE, MADEConfig
from untaught.training.module import adam

D, H, BATCH = 784, 8000, 64


class PeerMaskedLinear(nn.Linear):
    """The peer's layer: the mask is multiplied into the weight in place on every call."""

    def __init__(self, n_in: int, n_out: int, mask: torch.Tensor) -> None:
        super().__init__(n_in, n_out)
        self.register_buffer("mask", mask.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.weight.data *= self.mask
        return super().forward(x)


def peer_made() -> nn.Module:
    """784 -> 8000 -> 784 with MADE masks for the natural order, ReLU, sigmoid outputs."""
    gen = torch.Generator().manual_seed(0)
    order = torch.arange(D)
    hidden = torch.randint(0, D - 1, (H,), generator=gen)
    return nn.Sequential(
        PeerMaskedLinear(D, H, hidden[:, None] >= order[None, :]),
        nn.ReLU(),
        PeerMaskedLinear(H, D, order[:, None] > hidden[None, :]),
        nn.Sigmoid(),
    )


def peer_step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor) -> None:
    flat = x.flatten(1).float()
    loss = F.binary_cross_entropy_with_logits(model(flat), flat, reduction="none").sum(1).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


def ours_step(model: MADE, opt: torch.optim.Optimizer, x: torch.Tensor) -> None:
    loss, _ = model.loss(x)
    opt.zero_grad()
    loss.backward()
    opt.step()


def images_per_second(step, model, opt, batches: list[torch.Tensor]) -> float:
    start = time.perf_counter()
    for x in batches:
        step(model, opt, x)
    return len(batches) * BATCH / (time.perf_counter() - start)


def engine_throughput(data: torch.Tensor, epochs_steps: int) -> float:
    """Images/s of `untaught.train` (training steps only) on the same model and data."""
    import tempfile

    import untaught
    from untaught.data import Split
    from untaught.training import TrainingData

    n = epochs_steps * BATCH
    split = Split(data[:n], torch.zeros(n, dtype=torch.long), 2)
    small = Split(data[:256], torch.zeros(256, dtype=torch.long), 2)
    prepared = TrainingData("fashion-mnist", split, small, small, 2)
    torch.manual_seed(0)
    model = MADE(MADEConfig(shape=(1, 28, 28), levels=2, hidden=(H,), direct=False))
    with tempfile.TemporaryDirectory() as tmp:
        run = untaught.train(
            model,
            prepared,
            out=f"{tmp}/run",
            epochs=1,
            progress=False,
            samples=0,
            threads=torch.get_num_threads(),
            accelerator="cpu",
            binarize="static",
        )
    return run.metrics["train_images_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=30, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = binarize_static(load_split("fashion-mnist", "train").x, 256)
    batches = list(data[: args.steps * BATCH].split(BATCH))
    torch.manual_seed(0)
    peer = peer_made()
    ours = MADE(MADEConfig(shape=(1, 28, 28), levels=2, hidden=(H,), direct=False))
    peer_opt = torch.optim.Adam(peer.parameters())
    ours_opt = adam(ours.parameters(), lr=1e-3)  # what untaught's engine uses: fused where supported
    for step, model, opt in ((peer_step, peer, peer_opt), (ours_step, ours, ours_opt)):
        step(model, opt, batches[0])  # warm-up

    results: dict[str, list[float]] = {"peer": [], "untaught": []}
    for _ in range(args.rounds):
        results["peer"].append(images_per_second(peer_step, peer, peer_opt, batches))
        results["untaught"].append(images_per_second(ours_step, ours, ours_opt, batches))
    ratios = [u / p for u, p in zip(results["untaught"], results["peer"], strict=True)]
    engine = engine_throughput(data, args.steps * args.rounds)

    print(
        f"MADE {D}-{H}-{D}, batch {BATCH}, Adam, binarised Fashion-MNIST, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {args.rounds} rounds x {args.steps} steps"
    )
    for name, values in results.items():
        print(
            f"  {name:<9} model step  {statistics.median(values):8.0f} images/s (median; "
            f"min {min(values):.0f}, max {max(values):.0f})"
        )
    print(
        f"  untaught  whole engine {engine:8.0f} images/s (Lightning loop, 1 epoch of {args.steps * args.rounds} steps)"
    )
    print(f"  ratio untaught/peer (model step, median of per-round ratios): {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
