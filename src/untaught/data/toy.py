"""2-D toy densities for flows and density estimation pictures: continuous, float32 [N, 2].

Generated from fixed seeds (one per split), so every run sees the same points; about unit scale,
centred at the origin. Labels are -1 (none).
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


def _register(name: str, make, description: str) -> None:
    def load(split: str, root: str | None = None) -> Split:
        rng = np.random.default_rng(1000 * _SEEDS[split] + sum(map(ord, name)))
        x = torch.from_numpy(make(_SIZES[split], rng).astype(np.float32))
        return Split(x, torch.full((len(x),), -1, dtype=torch.long), levels=None)

    register(DatasetInfo(name, description, (2,), None, _SIZES, load, lambda root: True))


for _name, _make in [
    ("moons", moons),
    ("gaussians", gaussians),
    ("checkerboard", checkerboard),
    ("spirals", spirals),
    ("rings", rings),
]:
    _register(_name, _make, f"2-D toy density: {(_make.__doc__ or '').splitlines()[0].rstrip('.').lower()}")
