"""Masked attention over pixels: a causal transformer in any generation order, with a KV cache.

The D sub-pixels are read as a sequence in a generation order ``perm`` (``perm[t]`` = the flattened
dimension generated at step t; raster by default, any permutation given, or a random one drawn
from a seed). Token t carries the value and the position of the dimension generated at step t - 1
(a learned start vector at t = 0) plus the position of the dimension it must predict, so the
network knows which dimension comes next whatever the order. Causal self-attention (each token
attends to itself and earlier tokens: ``masked`` attention) then makes output t a function of
``x[perm[:t]]`` only, and output t holds the parameters of ``p(x[perm[t]] | x[perm[:t]])``.

Blocks are pre-norm: ``z + Attention(LN(z))``, ``z + MLP(LN(z))`` (4x wide, GELU). Values enter
linearly (``value * w``), so the conditionals are differentiable in the input and the dependency
audit reads them like any other model's.

Sampling with the key/value cache runs each layer on the newest token only, attending to the
stored keys and values of the earlier ones: O(D) work per step instead of a full O(D^2) pass;
it draws the naive sampler's samples for the same generator.

References:
    Vaswani et al. Attention Is All You Need. NeurIPS 2017.
    Parmar et al. Image Transformer. ICML 2018. Chen et al. Generative Pretraining from Pixels. ICML 2020.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..base import ModelConfig
from .conditionals import AutoregressiveModel


@dataclass
class PixelTransformerConfig(ModelConfig):
    """Hyperparameters of the masked-attention model.

    Attributes:
        layers: transformer blocks.
        dim: width of the token vectors.
        heads: attention heads (dividing ``dim``).
        permutation: the generation order, ``permutation[t]`` = the flattened dimension generated at
            step t; empty: raster order (or a random one with ``order_seed`` >= 0).
        order_seed: >= 0 draws a random generation order from this seed (if no permutation is given).
    """

    layers: int = 2
    dim: int = 64
    heads: int = 4
    permutation: tuple[int, ...] = ()
    order_seed: int = -1

    def __post_init__(self) -> None:
        if self.layers < 1 or self.dim < 1 or self.heads < 1 or self.dim % self.heads:
            raise ValueError(
                f"need layers >= 1 and dim divisible by heads >= 1; got layers={self.layers}, "
                f"dim={self.dim}, heads={self.heads}"
            )
        d = math.prod(self.shape)
        if self.permutation and sorted(self.permutation) != list(range(d)):
            raise ValueError(
                f"permutation must hold every dimension 0 .. {d - 1} once; got {len(self.permutation)} values"
            )


class Block(nn.Module):
    """Pre-norm transformer block on [B, T, dim] with causal self-attention."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def _split(self, t: torch.Tensor) -> torch.Tensor:  # [B, T, dim] -> [B, heads, T, dim/heads]
        b, n, d = t.shape
        return t.view(b, n, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        q, k, v = (self._split(t) for t in self.qkv(self.norm1(z)).chunk(3, -1))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        z = z + self.proj(a.transpose(1, 2).flatten(2))
        return z + self.mlp(self.norm2(z))

    def step(self, z: torch.Tensor, cache: list[torch.Tensor], t: int) -> torch.Tensor:
        """The newest token z [B, 1, dim] at step t, with this layer's key/value cache
        ``[keys, values]`` ([B, heads, D, dim/heads] each, filled up to t - 1)."""
        q, k, v = (self._split(x) for x in self.qkv(self.norm1(z)).chunk(3, -1))
        cache[0][:, :, t : t + 1], cache[1][:, :, t : t + 1] = k, v
        a = F.scaled_dot_product_attention(q, cache[0][:, :, : t + 1], cache[1][:, :, : t + 1])
        z = z + self.proj(a.transpose(1, 2).flatten(2))
        return z + self.mlp(self.norm2(z))


class PixelTransformer(AutoregressiveModel):
    """Causal transformer over the sub-pixels of ``config.shape`` in any generation order.

    ``log_prob(x)``: uint8 [B, *shape] -> [B] nats, exact. ``sample(n)`` -> uint8 [n, *shape].
    """

    Config = PixelTransformerConfig
    name = "pixel-transformer"
    description = "Masked attention over pixels in any generation order, with a KV cache (Image Transformer)"
    config: PixelTransformerConfig

    def __init__(self, config: PixelTransformerConfig) -> None:
        super().__init__(config)
        d, w = config.dims, config.dim
        if config.permutation:
            perm = torch.tensor(config.permutation)
        elif config.order_seed >= 0:
            perm = torch.randperm(d, generator=torch.Generator().manual_seed(config.order_seed))
        else:
            perm = torch.argsort(super().order())  # raster, channels last
        self.register_buffer("perm", perm, persistent=False)
        self.start = nn.Parameter(torch.randn(w) * 0.02)
        self.value = nn.Parameter(torch.randn(w) * 0.02)  # value (scaled to [-1, 1]) times this vector
        self.pos_in = nn.Parameter(torch.randn(d, w) * 0.02)  # where the previous value sits
        self.pos_out = nn.Parameter(torch.randn(d, w) * 0.02)  # which dimension to predict
        self.blocks = nn.ModuleList(Block(w, config.heads) for _ in range(config.layers))
        self.norm = nn.LayerNorm(w)
        self.out = nn.Linear(w, self.params_per_dim)

    def order(self) -> torch.Tensor:
        """``position[d]``: the step at which flattened dimension d is generated."""
        return torch.argsort(self.perm).cpu()

    def _tokens(self, hp: torch.Tensor) -> torch.Tensor:
        """Values in generation order hp [B, D] (in [0, 1]) -> input tokens [B, D, dim]."""
        prev = (2 * hp[:, :-1, None] - 1) * self.value + self.pos_in[self.perm[:-1]]  # [B, D-1, dim]
        start = self.start.expand(len(hp), 1, -1)
        return torch.cat([start, prev], 1) + self.pos_out[self.perm]

    def conditionals(self, h: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """h float [B, *shape] in [0, 1] -> parameters [B, *shape, P]."""
        z = self._tokens(h.flatten(1)[:, self.perm])
        for block in self.blocks:
            z = block(z)
        params = self.out(self.norm(z))  # [B, D, P] in generation order
        return params[:, torch.argsort(self.perm)].view(*h.shape, self.params_per_dim)

    def _sample_cached(
        self, x: torch.Tensor, u: torch.Tensor, start: int, temperature: float, condition: torch.Tensor | None
    ) -> torch.Tensor:
        """One token per step through every layer, attending to the cached keys and values."""
        n, d, w = len(x), self.config.dims, self.config.dim
        hd = w // self.config.heads
        like = self.pos_out
        caches = [[like.new_zeros(n, self.config.heads, d, hd) for _ in range(2)] for _ in self.blocks]
        flat = x.view(n, -1)
        perm = self.perm.tolist()
        for t in range(d):
            if t == 0:
                z = self.start.expand(n, -1)
            else:
                prev = perm[t - 1]
                z = (2 * self.scale(flat[:, prev])[:, None] - 1) * self.value + self.pos_in[prev]
            z = (z + self.pos_out[perm[t]]).unsqueeze(1)  # [n, 1, dim]
            for block, cache in zip(self.blocks, caches, strict=True):
                z = block.step(z, cache, t)
            if t >= start:  # the given dimensions only fill the cache
                params = self.out(self.norm(z[:, 0]))
                flat[:, perm[t]] = self.draw(params, u[:, t], temperature)
        return x
