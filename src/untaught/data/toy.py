"""Toy densities for flows and density estimation pictures: continuous, float32 [N, 2] (2-D) or
[N, 1] (1-D).

Generated from fixed seeds (one per split), so every run sees the same points; about unit scale,
centred at the origin. Labels are -1 (none). The 1-D sets have known densities
(:func:`bimodal_log_density`, :func:`skewed_log_density`), so a model's test NLL can be set
against the true density's cross-entropy.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .registry import DatasetInfo, Split, register

_SIZES = {"train": 20_000, "val": 5_000, "test": 5_000}
_SEEDS = {"train": 0, "val": 1, "test": 2}


def moons(n: int, rng: np.random.Generator) -> np.ndarray:
    """Two interleaving half circles with Gaussian noise (sd 0.05 before scaling)."""
    t = rng.uniform(0, math.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    pts = np.stack([x - 0.5, y - 0.25], 1) + rng.normal(0, 0.05, (n, 2))
    return pts * 1.5


def gaussians(n: int, rng: np.random.Generator) -> np.ndarray:
    """Eight Gaussians (sd 0.1) evenly spaced on a circle of radius 1.5."""
    k = rng.integers(0, 8, n)
    centres = 1.5 * np.stack([np.cos(k * math.pi / 4), np.sin(k * math.pi / 4)], 1)
    return centres + rng.normal(0, 0.1, (n, 2))


def checkerboard(n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform on the dark squares of a 4x4 checkerboard over [-2, 2]^2."""
    x = rng.uniform(-2, 2, n)
    y = rng.uniform(0, 1, n) + rng.integers(0, 2, n) * 2 - 2  # in [-2, -1) or [0, 1)
    y = y + (np.floor(x) % 2)  # shift every other column by one square
    return np.stack([x, y], 1)


def spirals(n: int, rng: np.random.Generator) -> np.ndarray:
    """Two interleaved spirals with Gaussian noise (sd 0.05)."""
    t = np.sqrt(rng.uniform(0, 1, n)) * 3 * math.pi
    sign = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    pts = sign[:, None] * np.stack([t * np.cos(t), t * np.sin(t)], 1) / (3 * math.pi) * 2
    return pts + rng.normal(0, 0.05, (n, 2))


def rings(n: int, rng: np.random.Generator) -> np.ndarray:
    """Three concentric rings (radii 0.5, 1.0, 1.5; sd 0.05), points proportional to radius."""
    radii = np.array([0.5, 1.0, 1.5])
    r = radii[rng.choice(3, n, p=radii / radii.sum())] + rng.normal(0, 0.05, n)
    t = rng.uniform(0, 2 * math.pi, n)
    return np.stack([r * np.cos(t), r * np.sin(t)], 1)


# the lecture's 1-D mixture of Gaussians: (weight, mean, sd)
BIMODAL = ((0.3, -1.5, 0.4), (0.7, 1.0, 0.7))


def bimodal(n: int, rng: np.random.Generator) -> np.ndarray:
    """Mixture of two Gaussians, 0.3 N(-1.5, 0.4^2) + 0.7 N(1, 0.7^2) (the lecture's 1-D example).

    Returns [n, 1].
    """
    (w, m0, s0), (_, m1, s1) = BIMODAL
    left = rng.random(n) < w
    return np.where(left, rng.normal(m0, s0, n), rng.normal(m1, s1, n))[:, None]


def bimodal_log_density(x: torch.Tensor) -> torch.Tensor:
    """True log-density of :func:`bimodal` at x [N, 1] (or [N]): nats [N]."""
    normal = torch.distributions.Normal
    x = x.reshape(-1).double()
    return torch.logsumexp(torch.stack([math.log(w) + normal(m, s).log_prob(x) for w, m, s in BIMODAL]), 0)


def skewed(n: int, rng: np.random.Generator) -> np.ndarray:
    """Right-skewed, Gamma(shape 2, scale 0.5) - 1: mean 0, a hard edge at -1.

    Returns [n, 1].
    """
    return (rng.gamma(2.0, 0.5, n) - 1.0)[:, None]


def skewed_log_density(x: torch.Tensor) -> torch.Tensor:
    """True log-density of :func:`skewed` at x [N, 1] (or [N]): log(4 y) - 2 y with y = x + 1 > 0,
    -inf at y <= 0; nats [N]."""
    y = x.reshape(-1).double() + 1
    return torch.where(y > 0, torch.log(4 * y.clamp_min(1e-300)) - 2 * y, -math.inf)


def _register(name: str, make, dims: int, description: str) -> None:
    def load(split: str, root: str | None = None) -> Split:
        rng = np.random.default_rng(1000 * _SEEDS[split] + sum(map(ord, name)))
        x = torch.from_numpy(make(_SIZES[split], rng).astype(np.float32))
        return Split(x, torch.full((len(x),), -1, dtype=torch.long), levels=None)

    register(DatasetInfo(name, description, (dims,), None, _SIZES, load, lambda root: True))


for _name, _make, _dims in [
    ("moons", moons, 2),
    ("gaussians", gaussians, 2),
    ("checkerboard", checkerboard, 2),
    ("spirals", spirals, 2),
    ("rings", rings, 2),
    ("bimodal-1d", bimodal, 1),
    ("skewed-1d", skewed, 1),
]:
    _summary = (_make.__doc__ or "").splitlines()[0].rstrip(".")
    _register(_name, _make, _dims, f"{_dims}-D toy density: {_summary[0].lower()}{_summary[1:]}")
