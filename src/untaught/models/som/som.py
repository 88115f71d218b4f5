"""Self-organising map (Kohonen 1982): prototypes on a grid that follow the data and keep its topology.

Each unit ``u`` of a ``rows x cols`` grid holds a prototype ``w_u`` in data space. For an example
``x`` the best-matching unit (BMU) is the most similar prototype (euclidean distance or cosine
similarity); units near the BMU on the grid move towards ``x`` by a neighbourhood weight
``h(d_grid(u, bmu); σ)`` times the learning rate, and σ and the learning rate decay over training.

Two training rules, both vectorised in torch (any device):

* ``online`` (Kohonen's rule): examples one at a time, ``w_u += η h_u (x - w_u)``.
* ``batch`` (Kohonen's batch map, on minibatches): ``w_u += η (Σ_x h_u(x) x / Σ_x h_u(x) - w_u)``;
  with η = 1 and the whole data set as the batch this is the classic batch SOM. Once σ has reached
  its end (update ``decay_steps`` on), the batch rule converges at that radius: every prototype is the
  ratio of the neighbourhood-weighted sums of ALL examples seen since, ``Σ h_u(x) x / Σ h_u(x)``,
  accumulated minibatch by minibatch in buffers — the whole-pass batch map, without the noise of
  minibatch ratios that made small-radius minibatch steps pull sparsely hit units towards other
  units' data. :func:`decay_steps_for` leaves the last pass for this phase.

Training runs through the shared engine as :meth:`SOM.update`; the minibatch sums (batch rule) or
the weight change (online rule) are averaged across DDP ranks by ``reduce``. Data are the dataset's
levels scaled to [0, 1] (``x / (levels - 1)``) or continuous vectors as given; prototypes live in
that space.

Quality: quantisation error (mean euclidean distance to the BMU's prototype, in those units) and
topographic error (fraction of examples whose two best units are not adjacent on the grid);
pictures: U-matrix, hit map, component planes (:mod:`untaught.viz.som`).

References:
    Kohonen. Self-organized formation of topologically correct feature maps. Biological Cybernetics 1982.
    Kohonen. Self-Organizing Maps, 3rd ed. Springer 2001 (batch map, quality measures).
    Kiviluoto. Topology preservation in self-organizing maps. ICNN 1996 (topographic error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ...draws import draw
from ..base import Model, ModelConfig, check_fields
from .grid import Decay, Neighbourhood, Topology, decay, gaussian, grid_adjacency, grid_positions, neighbourhood

Reduce = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class SOMConfig(ModelConfig):
    """SOM hyperparameters.

    Attributes:
        rows, cols: grid size.
        topology: 'rectangular' or 'hexagonal'.
        neighbourhood: 'gaussian', 'bubble' or 'mexican-hat' (online rule only: it has negative weights;
            prototypes it pushes away are kept inside the bounding box of the data seen).
        metric: 'euclidean' or 'cosine' (similarity that chooses the BMU).
        mode: 'batch' (batch map on each minibatch) or 'online' (one example at a time).
        sigma_start, sigma_end: neighbourhood radius in grid units (default start: max(rows, cols) / 2).
        lr_start, lr_end: learning rate (default: 1.0 -> 0.1 for the batch rule, whose minibatch means
            are already averages; 0.5 -> 0.01 for the online rule).
        decay: 'exponential', 'linear' or 'inverse' schedule for σ and the learning rate.
        decay_steps: updates (minibatches) over which they go from start to end, then stay (the batch
            rule then converges on accumulated sums, see the module); ``untaught som`` and the estimator
            set it by :func:`decay_steps_for`: all passes but the last for the batch rule.
        init: 'pca' (a plane spanned by the first two principal components of the first batch) or
            'random' (Gaussian with the first batch's mean and variances).
    """

    rows: int = 20
    cols: int = 20
    topology: Literal["rectangular", "hexagonal"] = "rectangular"
    neighbourhood: Literal["gaussian", "bubble", "mexican-hat"] = "gaussian"
    metric: Literal["euclidean", "cosine"] = "euclidean"
    mode: Literal["batch", "online"] = "batch"
    sigma_start: float | None = None
    sigma_end: float = 1.0
    lr_start: float | None = None
    lr_end: float | None = None
    decay: Literal["exponential", "linear", "inverse"] = "exponential"
    decay_steps: int = 1000
    init: Literal["pca", "random"] = "pca"

    def __post_init__(self) -> None:
        choices = {
            "topology": ("rectangular", "hexagonal"),
            "neighbourhood": ("gaussian", "bubble", "mexican-hat"),
            "metric": ("euclidean", "cosine"),
            "mode": ("batch", "online"),
            "decay": ("exponential", "linear", "inverse"),
            "init": ("pca", "random"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}; got {getattr(self, name)!r}")
        checks = [
            ("rows", self.rows >= 1, "an integer >= 1"),
            ("cols", self.cols >= 1 and self.rows * self.cols >= 2, "an integer >= 1, with rows * cols >= 2"),
            ("sigma_start", self.sigma_start is None or self.sigma_start > 0, "None or a positive number"),
            ("sigma_end", self.sigma_end > 0, "a positive number"),
            ("lr_start", self.lr_start is None or 0 < self.lr_start <= 1, "None or in (0, 1]"),
            ("lr_end", self.lr_end is None or 0 < self.lr_end <= 1, "None or in (0, 1]"),
            ("decay_steps", self.decay_steps >= 1, "an integer >= 1"),
        ]
        check_fields(self, checks)
        if self.mode == "batch" and self.neighbourhood == "mexican-hat":
            raise ValueError(
                "neighbourhood 'mexican-hat' has negative weights, which the batch rule's weighted means "
                "cannot take; use mode='online' or another neighbourhood"
            )

    @property
    def units(self) -> int:
        return self.rows * self.cols

    @property
    def learning_rates(self) -> tuple[float, float]:
        """(start, end) of the learning rate, with the mode's defaults filled in."""
        start, end = (1.0, 0.1) if self.mode == "batch" else (0.5, 0.01)
        return (self.lr_start or start, self.lr_end or end)

    @property
    def sigma0(self) -> float:
        return self.sigma_start if self.sigma_start is not None else max(self.rows, self.cols) / 2


def argmin_rows(x: torch.Tensor) -> torch.Tensor:
    """Index of each row's (first) minimum: x [B, U] -> int64 [B], as ``x.argmin(1)``.

    On the CPU by numpy: torch 2.13's CPU argmin is not vectorised (55 µs on a 128 x 400 float32
    batch at one thread, numpy 8 µs), and the batch step of a 20 x 20 map on 64-dimensional data
    spent a seventh of its time there.
    """
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and not x.requires_grad:
        return torch.from_numpy(x.numpy().argmin(1))
    return x.argmin(1)


def decay_steps_for(passes: int, steps_per_pass: int, mode: str) -> int:
    """Updates over which σ and the learning rate decay: all passes but the last for the batch rule
    (its last pass is the convergence phase, the batch map at the final radius), all for the online rule."""
    return max(1, (passes - (mode == "batch" and passes > 1)) * steps_per_pass)


class SOM(Model):
    """Self-organising map with ``rows x cols`` prototypes of ``config.shape``.

    ``encode(x)`` -> grid coordinates (row, col) of the BMU, float [B, 2]; ``decode(z)`` -> the
    prototype of the unit at (rounded) grid coordinates z [B, 2], float [B, *shape];
    ``bmu(x)`` -> unit index int64 [B]; ``loss(x)`` -> quantisation error (the validation measure;
    training is by :meth:`update`), with the topographic error as a metric.
    """

    Config = SOMConfig
    name = "som"
    description = "Self-organising map: rectangular/hexagonal grid, batch or online (Kohonen 1982)"
    config: SOMConfig

    def __init__(self, config: SOMConfig) -> None:
        super().__init__(config)
        self.weight = nn.Parameter(torch.zeros(config.units, config.dims))
        self.register_buffer("ready", torch.zeros((), dtype=torch.bool))
        # the data's bounding box (mexican-hat keeps prototypes inside it: its negative lobe diverges otherwise)
        self.register_buffer("low", torch.full((config.dims,), torch.inf))
        self.register_buffer("high", torch.full((config.dims,), -torch.inf))
        # the batch rule's convergence phase: Σ h_u(x) x and Σ h_u(x) over every example since decay_steps
        self.register_buffer("converge_sums", torch.zeros(config.units, config.dims))
        self.register_buffer("converge_weights", torch.zeros(config.units))
        pos = grid_positions(config.rows, config.cols, config.topology)
        self.register_buffer("positions", pos.float(), persistent=False)
        self.register_buffer("grid_sq", torch.cdist(pos, pos).pow(2).float(), persistent=False)
        self.register_buffer("adjacent", grid_adjacency(config.rows, config.cols, config.topology), persistent=False)
        # a Gaussian on a rectangular grid factorises: exp(-(Δr² + Δc²)/2σ²) = exp(-Δr²/2σ²) exp(-Δc²/2σ²)
        self.separable = config.topology == "rectangular" and config.neighbourhood == "gaussian"
        for name, n in (("row_sq", config.rows), ("col_sq", config.cols)):
            along = torch.arange(n, dtype=torch.float32)
            self.register_buffer(name, (along[:, None] - along[None]).pow(2), persistent=False)

    # -- data ---------------------------------------------------------------------------------
    def vectors(self, x: torch.Tensor) -> torch.Tensor:
        """Data x [B, *shape] -> float vectors [B, D] in the prototypes' space and dtype."""
        x = self.check_data(x).flatten(1).to(self.weight.dtype)
        levels = self.config.levels
        return x / (levels - 1) if levels is not None else x

    def distances(self, v: torch.Tensor) -> torch.Tensor:
        """Dissimilarity of each vector v [B, D] to each prototype: [B, U] (smaller is closer).

        euclidean: squared distance; cosine: 1 - cosine similarity.
        """
        w = self.weight
        if self.config.metric == "cosine":
            vn = v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)
            wn = w / w.norm(dim=1, keepdim=True).clamp_min(1e-12)
            return 1 - vn @ wn.T
        return torch.addmm((v * v).sum(1, keepdim=True) + (w * w).sum(1), v, w.T, alpha=-2).clamp_min(0)

    def schedule(self, step: int) -> tuple[float, float]:
        """(σ, learning rate) at update ``step``."""
        c = self.config
        sigma = decay(c.sigma0, c.sigma_end, step, c.decay_steps, c.decay)
        return sigma, decay(*c.learning_rates, step, c.decay_steps, c.decay)

    def neighbourhood_weights(self, bmu: torch.Tensor, sigma: float) -> torch.Tensor:
        """Weight of every unit for each example's winner, ``h(d(u, bmu_b); σ)``: [B, U] from int64 [B].

        Separable (rectangular Gaussian): the outer product of a row and a column factor per example,
        2 x 20 exps for a 20 x 20 map instead of one per unit and example.
        """
        c = self.config
        if not self.separable:
            return neighbourhood(self.grid_sq.index_select(0, bmu), sigma, c.neighbourhood)
        rows = gaussian(self.row_sq, sigma, factors=2).index_select(0, bmu.div(c.cols, rounding_mode="floor"))
        cols = gaussian(self.col_sq, sigma, factors=2).index_select(0, bmu.remainder(c.cols))
        return (rows[:, :, None] * cols[:, None, :]).flatten(1)

    # -- training -------------------------------------------------------------------------------
    def initialise(self, v: torch.Tensor, generator: torch.Generator | None, reduce: Reduce | None) -> None:
        """Place the prototypes from the moments of a batch v [B, D] (averaged across ranks)."""
        c = self.config
        moments = torch.cat([v.mean(0), (v.T @ v / len(v)).flatten()])
        moments = reduce(moments) if reduce is not None else moments
        mean, second = moments[: c.dims], moments[c.dims :].view(c.dims, c.dims)
        cov = (second - torch.outer(mean, mean)).double()
        if c.init == "random":
            std = cov.diagonal().clamp_min(0).sqrt().to(v.dtype)
            noise = draw(torch.randn, c.units, c.dims, generator=generator, dtype=v.dtype, device=v.device)
            self.weight.copy_(mean + noise * std)
        else:
            values, vectors = torch.linalg.eigh(cov)  # ascending
            top = [-1, -2] if c.dims > 1 else [-1, -1]  # one component only: both grid axes along it
            axes = (vectors[:, top] * values[top].clamp_min(0).sqrt()).to(v.dtype)  # [D, 2]
            pos = self.positions.to(v.dtype)
            span = (pos - pos.mean(0)) / (pos.amax(0) - pos.amin(0)).clamp_min(1e-12) * 2  # in [-1, 1]
            self.weight.copy_(mean + span @ axes.T)
        self.ready.fill_(True)

    @torch.no_grad()
    def update(
        self, x: torch.Tensor, *, step: int, generator: torch.Generator | None, reduce: Reduce | None = None
    ) -> dict[str, float]:
        """One batch-map or online step on x [B, *shape]; returns the batch's quantisation error
        (before the step), σ and the learning rate."""
        return self.step_vectors(self.vectors(x), step=step, generator=generator, reduce=reduce)

    @torch.no_grad()
    def step_vectors(
        self, v: torch.Tensor, *, step: int, generator: torch.Generator | None, reduce: Reduce | None = None
    ) -> dict[str, float]:
        """:meth:`update` on float vectors v [B, D]."""
        c = self.config
        if not self.ready:
            self.initialise(v, generator, reduce)
        sigma, lr = self.schedule(step)
        if c.metric == "euclidean":  # ‖w‖² − 2 v·w ranks the units as the distance does; ‖v‖² only for the best
            w = self.weight
            scores = torch.addmm((w * w).sum(1), v, w.T, alpha=-2)  # [B, U]
            bmu = argmin_rows(scores)
            qe = scores.gather(1, bmu[:, None]).squeeze(1).add_((v * v).sum(1)).clamp_min_(0).sqrt_().mean()
        else:
            bmu = argmin_rows(self.distances(v))
            qe = (v - self.weight[bmu]).norm(dim=1).mean()
        if c.mode == "batch":
            h = self.neighbourhood_weights(bmu, sigma)  # [B, U]
            num, den = h.T @ v, h.sum(0)  # weighted sums [U, D] and weights [U]
            if reduce is not None:  # means across ranks: the totals / ranks, so their ratio is the totals'
                sums = reduce(torch.cat([num.flatten(), den, qe[None]]))
                num, den, qe = sums[: c.units * c.dims].view(c.units, c.dims), sums[c.units * c.dims : -1], sums[-1]
            if step >= c.decay_steps:  # converge: the batch map of every example since σ reached its end
                num, den, lr = self.converge_sums.add_(num).clone(), self.converge_weights.add_(den), 1.0
            hit = den > 1e-12 * den.max().clamp_min(1e-30)  # units with (numerically) no weight stay
            change = num.div_(den.clamp_min(1e-30)[:, None]).sub_(self.weight)  # target - w, in place
            if not hit.all():
                change.masked_fill_(~hit[:, None], 0.0)
            self.weight.add_(change, alpha=lr)
        else:
            before = self.weight.clone()
            w = self.weight
            if c.neighbourhood == "mexican-hat":
                box = torch.cat([v.amin(0), v.amax(0)])
                box = reduce(box) if reduce is not None else box
                torch.minimum(self.low, box[: c.dims], out=self.low)
                torch.maximum(self.high, box[c.dims :], out=self.high)
            for row in v:
                h = self.neighbourhood_weights(argmin_rows(self.distances(row[None])), sigma)[0]
                w += (lr * h)[:, None] * (row - w)
                if c.neighbourhood == "mexican-hat":
                    torch.clamp(w, self.low, self.high, out=w)
            if reduce is not None:
                change = reduce(torch.cat([(w - before).flatten(), qe[None]]))
                w.copy_(before + change[:-1].view_as(w))
                qe = change[-1]
        return {"quantisation_error": float(qe), "sigma": sigma, "lr": lr}

    # -- using the map ------------------------------------------------------------------------------
    @torch.no_grad()
    def best_units(self, v: torch.Tensor, k: int = 1, chunk: int = 4096) -> torch.Tensor:
        """Indices of the k best-matching units of float vectors v [N, D]: int64 [N, k], best first."""
        if k == 1:
            out = [argmin_rows(self.distances(part))[:, None] for part in v.split(chunk)]
        else:
            out = [self.distances(part).topk(k, dim=1, largest=False).indices for part in v.split(chunk)]
        return torch.cat(out) if out else torch.zeros(0, k, dtype=torch.long, device=v.device)

    def bmu(self, x: torch.Tensor) -> torch.Tensor:
        """Best-matching unit of each example: x [B, *shape] -> int64 [B] (u = row * cols + col)."""
        return self.best_units(self.vectors(x))[:, 0]

    @torch.no_grad()
    def quantisation_error(self, x: torch.Tensor) -> float:
        """Mean euclidean distance from each example to its BMU's prototype (data units, [0, 1] for images)."""
        v = self.vectors(x)
        return float((v - self.weight[self.best_units(v)[:, 0]]).norm(dim=1).mean())

    @torch.no_grad()
    def topographic_error(self, x: torch.Tensor) -> float:
        """Fraction of examples whose best and second-best units are not adjacent on the grid."""
        two = self.best_units(self.vectors(x), k=2)
        return float((~self.adjacent[two[:, 0], two[:, 1]]).double().mean())

    @torch.no_grad()
    def loss(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
        """Quantisation error of x (the validation measure) and, as a metric, the topographic error."""
        v = self.vectors(x)
        two = self.best_units(v, k=2)
        qe = (v - self.weight[two[:, 0]]).norm(dim=1).mean()
        te = (~self.adjacent[two[:, 0], two[:, 1]]).to(v.dtype).mean()
        return qe, {"topographic_error": te}

    @torch.no_grad()
    def u_matrix(self) -> torch.Tensor:
        """Mean euclidean distance of each prototype to those of its adjacent units: [rows, cols]."""
        d = torch.cdist(self.weight, self.weight)
        adj = self.adjacent.to(d.dtype)
        return ((d * adj).sum(1) / adj.sum(1)).view(self.config.rows, self.config.cols)

    @torch.no_grad()
    def hit_map(self, x: torch.Tensor) -> torch.Tensor:
        """How many examples of x have each unit as BMU: int64 [rows, cols]."""
        counts = torch.bincount(self.bmu(x), minlength=self.config.units)
        return counts.view(self.config.rows, self.config.cols)

    def component_planes(self) -> torch.Tensor:
        """Prototype value of every component on the grid: [D, rows, cols]."""
        return self.weight.detach().T.reshape(self.config.dims, self.config.rows, self.config.cols)

    def prototypes(self) -> torch.Tensor:
        """Prototypes shaped as the data: float [U, *shape] (levels data: in [0, 1])."""
        return self.weight.detach().reshape(self.config.units, *self.config.shape)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Grid coordinates (row, col) of each example's BMU: x [B, *shape] -> float [B, 2]."""
        u = self.bmu(x)
        return torch.stack([u // self.config.cols, u % self.config.cols], 1).to(self.weight.dtype)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Prototype of the unit at grid coordinates z [B, 2] (rounded, clamped): float [B, *shape]."""
        if z.dim() != 2 or z.shape[1] != 2:
            raise ValueError(f"z must be grid coordinates of shape (B, 2); got {tuple(z.shape)}")
        r = z[:, 0].round().long().clamp(0, self.config.rows - 1)
        c = z[:, 1].round().long().clamp(0, self.config.cols - 1)
        return self.weight[r * self.config.cols + c].reshape(len(z), *self.config.shape)


__all__ = ["SOM", "Decay", "Neighbourhood", "SOMConfig", "Topology", "decay_steps_for"]
