"""PixelCNN, Gated PixelCNN, PixelSNAIL: training throughput against pytorch-generative, sampling time
(naive vs cached), at pytorch-generative's default sizes.

EugenHotaj/pytorch-generative is not on PyPI, so its training steps are re-created here from its
published code: ``CausalConv2d`` (``weight.data *= mask`` before every convolution), PixelCNN with
a 7x7 mask-A input layer to 2 x 16 = 32 channels, 15 residual blocks (ReLU, 1x1 to 16, ReLU, 3x3
mask B, ReLU, 1x1 to 32; its forward adds the block's output, which already holds the residual,
to its input once more), head ReLU, 1x1 to 32, ReLU, 1x1 to 1, batch 256 (its ``reproduce``);
Gated PixelCNN with 10 gated layers of 128 channels after a 7x7 input layer ((k//2+1) x k vertical
and 1 x (k//2+1) horizontal convolutions, link, gated tanh*sigmoid, skip and residual 1x1), head
32, batch 128. Both train with ``binary_cross_entropy_with_logits`` summed over pixels and plain
Adam, as its ``reproduce`` functions do. untaught's models of the same sizes train with the
optimizer its engine builds (Adam, fused where supported). Same binarised Fashion-MNIST batches,
alternating rounds, same thread count.

PixelSNAIL (its ``reproduce``: 8 blocks, 64 channels, 2 residual blocks each, key 4, value 32,
batch 128, Adam lr 1e-3; its per-step ``MultiplicativeLR`` decay is left out): a mask-A 3x3 input
layer (``CausalConv2d``, 1 to 64); per block, residual blocks ``x + a * sigmoid(g)`` with ``(a, g)``
the top-left crop of a 2x2 convolution (padding 1, 64 to 128) of the crop of ELU(2x2 convolution
(64 to 64) of ELU(x)); then one-head attention over the block's features with 2 position channels
(row and column coordinates in [-0.5, 0.5), cached per input shape) prepended: query 1x1 from those
66 channels to 4, key and value 1x1 from them plus the input image (67 to 4 + 32), scores / sqrt(4)
filled with -inf where the cached strictly-lower-triangular mask is 0, softmax, the masked entries
(the whole first row) set to 0, 1x1 projection 32 to 32; the block returns
ELU(1x1(ELU(ELU(1x1(ELU(res))) + ELU(1x1(ELU(attn)))))) (1x1 64 to 64, 32 to 64, 64 to 64), which
the model adds to its input (its skip connections); head 1x1 64 to 32, 1x1 32 to 1, no activation
between. untaught's PixelSNAIL is configured alike (8 blocks of 2 gated residuals, 64 channels,
key 4, value 32, head 32, 3x3 input layer); its layers differ (3x3 mask-B gated residuals, whose
masked-out weights are counted, a learned position embedding of 64 x 28 x 28 per block, a null
key/value slot), so it counts more parameters (about 1.69 M against 0.91 M). Both build
B x 784 x 784 attention matrices in every block: several GB of activations at batch 128.

Sampling: the same untaught model samples 28x28 images with its naive sampler (one full forward
pass per pixel, what pytorch-generative's ``sample`` does) and its cached sampler, from the same
generator seed; the script prints both times, their ratio and whether the samples are identical.

    python bench/pixelcnn_throughput.py [--threads 2] [--parts pixelcnn,gated,pixelsnail,sampling] [--steps 6]
        [--rounds 3] [--snail-steps 1] [--snail-rounds 2]
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from untaught.data import binarize_static, load_split
from untaught.models.autoregressive.gated_pixelcnn import GatedPixelCNN, GatedPixelCNNConfig
from untaught.models.autoregressive.pixelcnn import PixelCNN, PixelCNNConfig
from untaught.models.autoregressive.pixelsnail import PixelSNAIL, PixelSNAILConfig
from untaught.training.module import adam


# -- the peer's design, re-created ----------------------------------------------------------------
class PeerCausalConv2d(nn.Conv2d):
    def __init__(self, mask_center: bool, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        o, i, h, w = self.weight.shape
        mask = torch.zeros(o, i, h, w)
        mask[:, :, : h // 2, :] = 1
        mask[:, :, h // 2, : w // 2 + int(not mask_center)] = 1
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.weight.data *= self.mask
        return super().forward(x)


class PeerResidual(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(n, n // 2, 1),
            nn.ReLU(),
            PeerCausalConv2d(False, n // 2, n // 2, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(n // 2, n, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class PeerPixelCNN(nn.Module):
    def __init__(self, n_residual: int = 15, residual_channels: int = 16, head_channels: int = 32) -> None:
        super().__init__()
        c = 2 * residual_channels
        self.input = PeerCausalConv2d(True, 1, c, 7, padding=3)
        self.layers = nn.ModuleList(PeerResidual(c) for _ in range(n_residual))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c, head_channels, 1), nn.ReLU(), nn.Conv2d(head_channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input(x)
        for layer in self.layers:
            x = x + layer(x)
        return self.head(x)


def peer_gate(x: torch.Tensor) -> torch.Tensor:
    f, g = x.chunk(2, 1)
    return torch.tanh(f) * torch.sigmoid(g)


class PeerGatedLayer(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, mask_center: bool) -> None:
        super().__init__()
        p = (k - 1) // 2
        self.mask_center = mask_center
        self.v1xn = nn.Conv2d(cin, cout, (1, k), padding=(0, p))
        self.vnx1 = nn.Conv2d(cout, 2 * cout, (k // 2 + 1, 1), padding=(p + 1, 0))
        self.v1x1 = nn.Conv2d(cin, 2 * cout, 1)
        self.link = nn.Conv2d(2 * cout, 2 * cout, 1)
        self.h1xn = nn.Conv2d(cin, 2 * cout, (1, k // 2 + 1), padding=(0, p + int(mask_center)))
        self.hres = nn.Conv2d(cout, cout, 1)
        self.hskip = nn.Conv2d(cout, cout, 1)

    def forward(self, v_in: torch.Tensor, h_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        _, _, h, w = v_in.shape
        v = self.vnx1(self.v1xn(v_in))[:, :, :h, :]
        link = self.link(v)
        v = peer_gate(v + self.v1x1(v_in))
        hs = peer_gate(link + self.h1xn(h_in)[:, :, :, :w])
        skip = self.hskip(hs)
        hs = self.hres(hs)
        if not self.mask_center:
            hs = hs + h_in
        return v, hs, skip


class PeerGatedPixelCNN(nn.Module):
    def __init__(self, n_gated: int = 10, gated_channels: int = 128, head_channels: int = 32) -> None:
        super().__init__()
        self.input = PeerGatedLayer(1, gated_channels, 7, True)
        self.layers = nn.ModuleList(PeerGatedLayer(gated_channels, gated_channels, 3, False) for _ in range(n_gated))
        self.head = nn.Sequential(
            nn.ReLU(), nn.Conv2d(gated_channels, head_channels, 1), nn.ReLU(), nn.Conv2d(head_channels, 1, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v, h, skips = self.input(x, x)
        for layer in self.layers:
            v, h, skip = layer(v, h)
            skips = skips + skip
        return self.head(skips)


@functools.lru_cache(maxsize=32)
def peer_positions(shape: tuple[int, ...]) -> torch.Tensor:
    """[N, 2, H, W]: each pixel's row, then column, coordinate, k / size - 0.5."""
    n, _, h, w = shape
    rows = (torch.arange(h) / h - 0.5)[None, None, :, None].expand(n, 1, h, w)
    cols = (torch.arange(w) / w - 0.5)[None, None, None, :].expand(n, 1, h, w)
    return torch.cat((rows, cols), 1)


@functools.lru_cache(maxsize=32)
def peer_causal_mask(size: int) -> torch.Tensor:
    """[size, size]: 1 where the column is strictly before the row (the centre masked)."""
    return torch.ones(size, size).tril(-1)


class PeerCausalAttention(nn.Module):
    def __init__(self, cin: int, key: int, value: int, extra: int) -> None:
        super().__init__()
        self.key, self.value = key, value
        self.q = nn.Conv2d(cin, key, 1)
        self.kv = nn.Conv2d(cin + extra, key + value, 1)
        self.proj = nn.Conv2d(value, value, 1)

    def forward(self, x: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:  # [N, C, H, W] -> [N, 1, HW, C]
            return t.view(n, 1, t.shape[1], -1).transpose(2, 3)

        q = heads(self.q(x))
        k, v = self.kv(torch.cat((x, extra), 1)).split([self.key, self.value], 1)
        k, v = heads(k), heads(v)
        mask = peer_causal_mask(h * w).view(1, 1, h * w, h * w).to(x.device)
        scores = (q @ k.transpose(2, 3)) / math.sqrt(k.shape[-1])
        scores = scores.masked_fill(mask == 0, float("-inf"))
        weights = F.softmax(scores, -1).masked_fill(mask == 0, 0)
        return self.proj((weights @ v).transpose(2, 3).contiguous().view(n, -1, h, w))


def peer_elu_conv_elu(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return F.elu(conv(F.elu(x)))


class PeerSnailResidual(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(n, n, 2, padding=1)
        self.conv_out = nn.Conv2d(n, 2 * n, 2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, _, h, w = x.shape
        out = peer_elu_conv_elu(self.conv_in, x)[:, :, :h, :w]
        a, g = self.conv_out(out)[:, :, :h, :w].chunk(2, 1)
        return x + a * torch.sigmoid(g)


class PeerSnailBlock(nn.Module):
    def __init__(self, n: int, image_channels: int = 1, n_residual: int = 2, key: int = 4, value: int = 32) -> None:
        super().__init__()
        self.residual = nn.Sequential(*(PeerSnailResidual(n) for _ in range(n_residual)))
        self.attention = PeerCausalAttention(n + 2, key, value, image_channels)
        self.residual_out = nn.Conv2d(n, n, 1)
        self.attention_out = nn.Conv2d(value, n, 1)
        self.out = nn.Conv2d(n, n, 1)

    def forward(self, x: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        res = self.residual(x)
        pos = peer_positions(tuple(image.shape)).to(res.device)
        attn = self.attention(torch.cat((pos, res), 1), image)
        res = peer_elu_conv_elu(self.residual_out, res)
        attn = peer_elu_conv_elu(self.attention_out, attn)
        return peer_elu_conv_elu(self.out, res + attn)


class PeerPixelSNAIL(nn.Module):
    def __init__(
        self, n_blocks: int = 8, channels: int = 64, n_residual: int = 2, key: int = 4, value: int = 32
    ) -> None:
        super().__init__()
        self.input = PeerCausalConv2d(True, 1, channels, 3, padding=1)
        self.blocks = nn.ModuleList(PeerSnailBlock(channels, 1, n_residual, key, value) for _ in range(n_blocks))
        self.head = nn.Sequential(nn.Conv2d(channels, channels // 2, 1), nn.Conv2d(channels // 2, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image = x
        x = self.input(x)
        for block in self.blocks:
            x = x + block(x, image)
        return self.head(x)


# -- timing ---------------------------------------------------------------------------------------
def peer_step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor) -> None:
    xf = x.float()
    loss = F.binary_cross_entropy_with_logits(model(xf), xf, reduction="none").flatten(1).sum(1).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


def ours_step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor) -> None:
    loss, _ = model.loss(x)
    opt.zero_grad()
    loss.backward()
    opt.step()


def rate(step, model, opt, batches: list[torch.Tensor]) -> float:
    start = time.perf_counter()
    for x in batches:
        step(model, opt, x)
    return sum(len(x) for x in batches) / (time.perf_counter() - start)


def compare(
    label: str, peer: nn.Module, ours: nn.Module, data: torch.Tensor, batch: int, steps: int, rounds: int
) -> None:
    batches = list(data[: steps * batch].split(batch))
    peer_opt, ours_opt = torch.optim.Adam(peer.parameters()), adam(ours.parameters(), lr=1e-3)
    peer_step(peer, peer_opt, batches[0][:8])  # warm-up
    ours_step(ours, ours_opt, batches[0][:8])
    results: dict[str, list[float]] = {"peer": [], "untaught": []}
    for _ in range(rounds):
        results["peer"].append(rate(peer_step, peer, peer_opt, batches))
        results["untaught"].append(rate(ours_step, ours, ours_opt, batches))
    ratios = [u / p for u, p in zip(results["untaught"], results["peer"], strict=True)]
    n_peer, n_ours = (sum(p.numel() for p in m.parameters()) for m in (peer, ours))
    print(f"{label}: batch {batch}, {rounds} rounds x {steps} steps, parameters peer {n_peer}, ours {n_ours}")
    for name, values in results.items():
        print(f"  {name:<9} train step {statistics.median(values):8.1f} images/s (median; min {min(values):.1f})")
    print(f"  ratio untaught/peer (median of per-round ratios): {statistics.median(ratios):.2f}")


def sampling(label: str, model, n: int, naive: bool = True) -> None:
    model.eval()
    t0 = time.perf_counter()
    fast = model.sample(n, generator=torch.Generator().manual_seed(0), fast=True)
    t_fast = time.perf_counter() - t0
    line = f"{label}: {n} samples of 28x28: cached {t_fast:.2f} s"
    if naive:
        t0 = time.perf_counter()
        slow = model.sample(n, generator=torch.Generator().manual_seed(0), fast=False)
        t_naive = time.perf_counter() - t0
        same = (fast == slow).float().mean().item()
        line += f", naive {t_naive:.2f} s, speed-up {t_naive / t_fast:.1f}x, identical pixels {same:.4%}"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--parts", default="pixelcnn,gated,pixelsnail,sampling", help="comma-separated: what to measure"
    )
    parser.add_argument("--steps", type=int, default=6, help="PixelCNN training steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gated-steps", type=int, default=1, help="Gated PixelCNN training steps per round")
    parser.add_argument("--gated-rounds", type=int, default=2)
    parser.add_argument("--snail-steps", type=int, default=1, help="PixelSNAIL training steps per round")
    parser.add_argument("--snail-rounds", type=int, default=2)
    parser.add_argument("--samples", type=int, default=16, help="images per sampling measurement")
    parser.add_argument(
        "--gated-naive-samples", type=int, default=1, help="images for naive sampling of Gated PixelCNN and PixelSNAIL"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, binarised Fashion-MNIST")
    data = binarize_static(load_split("fashion-mnist", "train").x, 256)

    torch.manual_seed(0)
    pixelcnn = PixelCNN(PixelCNNConfig(shape=(1, 28, 28), levels=2, blocks=15, channels=32, head=32))
    gated = GatedPixelCNN(GatedPixelCNNConfig(shape=(1, 28, 28), levels=2, layers=10, channels=128, head=32))
    snail = PixelSNAIL(
        PixelSNAILConfig(
            shape=(1, 28, 28), levels=2, blocks=8, residuals=2, channels=64, key=4, value=32, head=32, kernel=3
        )
    )
    if "pixelcnn" in args.parts:
        compare("PixelCNN 15 blocks x 32 channels", PeerPixelCNN(), pixelcnn, data, 256, args.steps, args.rounds)
    if "gated" in args.parts:
        compare(
            "Gated PixelCNN 10 layers x 128 channels",
            PeerGatedPixelCNN(),
            gated,
            data,
            128,
            args.gated_steps,
            args.gated_rounds,
        )
    if "pixelsnail" in args.parts:
        compare(
            "PixelSNAIL 8 blocks x 64 channels",
            PeerPixelSNAIL(),
            snail,
            data,
            128,
            args.snail_steps,
            args.snail_rounds,
        )
    if "sampling" in args.parts:  # the time of a pass does not depend on the weights' values
        sampling("PixelCNN", pixelcnn, args.samples)
        sampling("Gated PixelCNN", gated, args.gated_naive_samples)
        sampling("Gated PixelCNN", gated, args.samples, naive=False)
        sampling("PixelSNAIL", snail, args.gated_naive_samples)
        sampling("PixelSNAIL", snail, args.samples, naive=False)


if __name__ == "__main__":
    main()
