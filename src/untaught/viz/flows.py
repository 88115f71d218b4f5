"""Pictures of flows, drawn with matplotlib.

* :func:`flow_2d_figure`: the lecture's RealNVP picture for a 2-D flow: data with a grid, the data
  mapped to noise with the grid's image (encode), the density as a heat map, and samples (decode).
* :func:`cdf_figure`: a 1-D CDF flow before and after training: histograms of ``z = f(x)`` against
  the target, and the learned density against the data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    import io

    from ..io import atomic_write_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def grid_lines(low: float, high: float, lines: int = 13, points: int = 200) -> list[torch.Tensor]:
    """Horizontal and vertical lines of a square grid over [low, high]^2, each [points, 2] float64."""
    ticks = torch.linspace(low, high, lines, dtype=torch.float64)
    t = torch.linspace(low, high, points, dtype=torch.float64)
    out = []
    for v in ticks:
        out.append(torch.stack([t, torch.full_like(t, v)], 1))
        out.append(torch.stack([torch.full_like(t, v), t], 1))
    return out


@torch.no_grad()
def density_grid(model, low: float, high: float, n: int = 200) -> tuple[np.ndarray, float]:
    """``log p`` on an n x n grid over [low, high]^2 ([n, n], rows = y) and the trapezoid integral of p."""
    axis = torch.linspace(low, high, n, dtype=torch.float64)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack([xx.flatten(), yy.flatten()], 1)
    dtype = next(model.parameters()).dtype
    lp = torch.cat([model.log_prob(p.to(dtype)).double() for p in points.split(4096)]).view(n, n)
    step = float(axis[1] - axis[0])
    mass = float(torch.trapezoid(torch.trapezoid(lp.exp(), dx=step), dx=step))
    return lp.numpy(), mass


@torch.no_grad()
def flow_2d_figure(model, data: torch.Tensor, path: str | Path, *, title: str = "", extent: float = 3.0) -> float:
    """Four panels for a flow on 2-D data [N, 2]; returns the density's integral over the shown square."""
    plt = _pyplot()
    dtype = next(model.parameters()).dtype
    x = data[:3000].to(dtype)
    z = model.encode(x).double()
    lines = grid_lines(-extent, extent)
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.3))
    ax = axes[0]
    ax.scatter(*x.double().T.numpy(), s=2, c=x[:, 0].double().numpy(), cmap="viridis")
    for line in lines:
        ax.plot(*line.T.numpy(), color="grey", lw=0.4)
    ax.set_title("data x with a grid")
    ax = axes[1]
    ax.scatter(*z.T.numpy(), s=2, c=x[:, 0].double().numpy(), cmap="viridis")
    for line in lines:
        image = model.encode(line.to(dtype)).double()
        ax.plot(*image.T.numpy(), color="grey", lw=0.4)
    ax.set_xlim(-4, 4)
    ax.set_ylim(-4, 4)
    ax.set_title("z = f(x): data and grid (encode)")
    lp, mass = density_grid(model, -extent, extent)
    ax = axes[2]
    ax.imshow(np.exp(lp), origin="lower", extent=(-extent, extent, -extent, extent), cmap="magma")
    ax.set_title(f"density p(x) (integral {mass:.4f})")
    samples = model.sample(3000, generator=torch.Generator().manual_seed(0)).double()
    ax = axes[3]
    ax.scatter(*samples.T.numpy(), s=2, color="tab:blue")
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_title("samples x = f^-1(z) (decode)")
    for ax in axes[[0, 2, 3]]:
        ax.set_xlim(-extent, extent)
        ax.set_ylim(-extent, extent)
    for ax in axes:
        ax.set_aspect("equal")
    if title:
        fig.suptitle(title)
    _save(fig, path)
    return mass


@torch.no_grad()
def cdf_figure(before, after, data: torch.Tensor, path: str | Path, *, title: str = "") -> None:
    """A 1-D flow before and after training on ``data`` [N, 1]: z histograms against the base
    (a CDF flow's ``target``, else normal) and the densities."""
    plt = _pyplot()
    target = getattr(after.config, "target", "normal")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    x = data[:, :1].double()
    for ax, model, label in ((axes[0], before, "before training"), (axes[1], after, "after training")):
        z = model.encode(x.to(next(model.parameters()).dtype)).double().flatten().numpy()
        ax.hist(z, bins=60, density=True, color="tab:blue", alpha=0.7, label="z = f(x)")
        grid = (
            torch.linspace(-4, 4, 400, dtype=torch.float64)
            if target == "normal"
            else torch.linspace(0.001, 0.999, 400, dtype=torch.float64)
        )
        ax.plot(
            grid.numpy(),
            model.base_log_prob(grid[:, None].to(next(model.parameters()).dtype)).exp().double().numpy(),
            color="black",
            label=f"target ({target})",
        )
        ax.set_title(f"z = f(x) {label}")
        ax.legend()
    ax = axes[2]
    ax.hist(x.flatten().numpy(), bins=80, density=True, color="grey", alpha=0.6, label="data")
    lo, hi = float(x.min()) - 0.5, float(x.max()) + 0.5
    grid = torch.linspace(lo, hi, 500, dtype=torch.float64)[:, None]
    for model, label in ((before, "before"), (after, "after")):
        dens = model.log_prob(grid.to(next(model.parameters()).dtype)).exp().double().numpy()
        ax.plot(grid.flatten().numpy(), dens, label=f"p(x) {label}")
    ax.set_title("learned density")
    ax.legend()
    if title:
        fig.suptitle(title)
    _save(fig, path)
