"""Sparse coding with a learned dictionary (Olshausen & Field 1996), trained by alternating
optimisation: online (Mairal et al. 2009) or full-batch.

A signal x ∈ R^N (a flattened patch) is coded over K unit-norm atoms, the rows of D [K, N], by

    z*(x) = argmin_z ½‖x − zD‖² + λ‖z‖₁          (homotopy or FISTA, :mod:`.homotopy`, :mod:`.solvers`),

and D is learned by minimising the mean of that objective over the data with the atoms constrained
to ‖d_k‖ ≤ 1. Both algorithms alternate a coding step (D fixed) and a dictionary step (codes
fixed); the dictionary step needs only the sufficient statistics ``A = Σ zᵀz`` [K, K] and
``B = Σ zᵀx`` [K, N], since ½Σ‖x − zD‖² = ½ tr(Dᵀ A D) − ⟨B, D⟩ + const:

* ``online`` (Mairal, Bach, Ponce & Sapiro 2009): every minibatch is coded with the current D, its
  statistics are added to A and B with the paper's down-weighting of the past,
  ``β_t = (θ + 1 − η) / (θ + 1)``, θ = tη if t < η else η² + t − η (η the batch size), and the
  dictionary takes ``dictionary_steps`` (default 1) sweeps of the paper's block-coordinate update
  (Algorithm 2: atom by atom, in order, each the exact minimiser over its unit ball given the
  others), computed without a Python loop over atoms (:func:`block_coordinate_sweep`).
* ``batch``: one alternation per epoch. The epoch's codes all use the dictionary the epoch started
  with, A and B are summed over the epoch, and after every batch D is re-solved to tolerance from
  them, so at the end of the epoch D is exactly the full-batch dictionary step and the full-batch
  objective never increases from one epoch to the next.

After a dictionary step every atom is rescaled to unit norm (atoms of norm below one, which the
constraint allows, are stretched and their codes in A and B shrunk to match: reconstruction is
unchanged and ‖z‖₁ can only fall). Atoms that fall unused (their diagonal of A below
``dead_fraction`` of the mean diagonal) are re-initialised with the worst-reconstructed signals of the
batch. The statistics, step count and epoch live in buffers, so checkpoints and resume carry them;
under DDP the statistics (and any new atoms) are averaged across ranks by ``reduce``.

References:
    Olshausen, Field. Emergence of simple-cell receptive field properties by learning a sparse code
    for natural images. Nature 1996.
    Mairal, Bach, Ponce, Sapiro. Online dictionary learning for sparse coding. ICML 2009 (and JMLR 2010).
    Beck, Teboulle. A fast iterative shrinkage-thresholding algorithm for linear inverse problems.
    SIAM J. Imaging Sciences 2009.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..base import Model, ModelConfig, check_fields, require_continuous
from .homotopy import compiled_path, homotopy
from .solvers import STOPS, LassoResult, fista, lasso_objective

Reduce = Callable[[torch.Tensor], torch.Tensor]
HOMOTOPY_ROWS = 1024  # solver "auto" off the CPU: the homotopy from this many signals on, FISTA below


@dataclass
class SparseCodingConfig(ModelConfig):
    """Sparse coding hyperparameters (continuous data: ``levels`` None, e.g. ``bsds500-patches``).

    Attributes:
        atoms: K, the number of dictionary atoms.
        lam: λ > 0, the weight of ‖z‖₁ in ½‖x − zD‖² + λ‖z‖₁ (in the data's units squared).
        algorithm: 'online' (Mairal et al. 2009, one dictionary step per minibatch) or 'batch'
            (one alternation per epoch).
        nonneg: constrain the codes to z ≥ 0.
        solver: 'homotopy' (exact path, :mod:`.homotopy`, certified to ``tol`` by the duality gap),
            'fista' (:mod:`.solvers`, without momentum restarts: on image patches they saved no
            iterations and tripled the cost of one at minibatch sizes), or 'auto': the homotopy on a
            CPU in float32 / float64 (its compiled per-row path: 1.9 ms for 256 patches against
            FISTA's 17 ms) and otherwise for batches of at least ``HOMOTOPY_ROWS`` signals, FISTA
            below (there the path takes its pieces in lockstep, ~40 for the slowest of 256
            patches, and each costs some 40 tensor operations, against 5 for a FISTA iteration).
            Warm starts (``codes(init=...)``) always use FISTA.
        tol, stop, max_iter: the stopping rule of every coding ('objective', 'kkt' or 'gap'; see
            :mod:`.solvers`) and FISTA's iteration cap.
        dictionary_steps: block-coordinate sweeps per online dictionary step.
        dictionary_tol: relative change of D at which a full-batch dictionary step stops (at most
            ``dictionary_max_steps`` sweeps).
        dead_fraction: an atom whose diagonal of A is below this fraction of the mean diagonal is
            unused and is re-initialised (0 disables re-initialisation).
    """

    shape: tuple[int, ...] = (1, 8, 8)
    levels: int | None = None
    atoms: int = 256
    lam: float = 1.0
    algorithm: Literal["online", "batch"] = "online"
    nonneg: bool = False
    tol: float = 1e-4
    solver: Literal["auto", "homotopy", "fista"] = "auto"
    stop: Literal["objective", "kkt", "gap"] = "objective"
    max_iter: int = 1000
    dictionary_steps: int = 1
    dictionary_tol: float = 1e-7
    dictionary_max_steps: int = 2000
    dead_fraction: float = 1e-3

    def __post_init__(self) -> None:
        require_continuous(self, "sparse coding", "bsds500-patches")
        checks = [
            ("atoms", isinstance(self.atoms, int) and self.atoms >= 1, "an integer >= 1"),
            ("lam", self.lam > 0, "a positive number (λ, the L1 weight)"),
            ("algorithm", self.algorithm in ("online", "batch"), "'online' or 'batch'"),
            ("tol", self.tol >= 0, "a number >= 0"),
            ("stop", self.stop in STOPS, f"one of {STOPS}"),
            ("solver", self.solver in ("auto", "homotopy", "fista"), "'auto', 'homotopy' or 'fista'"),
            ("max_iter", isinstance(self.max_iter, int) and self.max_iter >= 1, "an integer >= 1"),
            ("dictionary_steps", self.dictionary_steps >= 1, "an integer >= 1"),
            ("dictionary_tol", self.dictionary_tol >= 0, "a number >= 0"),
            ("dictionary_max_steps", self.dictionary_max_steps >= 1, "an integer >= 1"),
            ("dead_fraction", 0 <= self.dead_fraction < 1, "in [0, 1)"),
        ]
        check_fields(self, checks)


def normalize_rows(d: torch.Tensor) -> torch.Tensor:
    """Every row of d [K, N] scaled to unit norm (rows of zeros stay zero)."""
    return d / d.norm(dim=1, keepdim=True).clamp_min(torch.finfo(d.dtype).tiny)


def block_coordinate_sweep(dictionary: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """One block-coordinate sweep of Mairal et al. (2009, Algorithm 2) over the atoms, in order:

        u_j = (b_j − Σ_{i≠j} A_ji d_i) / A_jj,    d_j ← u_j / max(‖u_j‖, 1)      (j = 1 … K),

    where the atoms d_i, i < j, are already the new ones: each atom exactly minimises
    ½ tr(Dᵀ A D) − ⟨B, D⟩ over its unit ball given the others. Atoms with A_jj ≤ 1e-10 · max A_ii
    (unused) are kept. ``dictionary`` [K, N], ``a`` [K, K], ``b`` [K, N] -> D [K, N].

    Vectorised without a loop over atoms: with n_j = max(‖u_j‖, 1) known, the sweep is the
    lower-triangular system (diag A + tril(A, −1) diag(1/n)) U = B − triu(A, 1) D, solved in one
    call; n is found by fixed-point iteration from the norms of the simultaneous (Jacobi) update.
    After t iterations n_1 … n_t are exact
    (n_j depends on n_i, i < j, only), so at most K iterations give the sequential sweep exactly;
    on real statistics it converges to rounding in a handful.
    """
    k = a.shape[0]
    diag = a.diagonal()
    keep = diag <= 1e-10 * diag.max().clamp_min(torch.finfo(a.dtype).tiny)
    lower = torch.tril(a, -1).masked_fill(keep[:, None], 0)
    rhs = torch.where(keep[:, None], dictionary, b - torch.triu(a, 1) @ dictionary)
    pivots = torch.where(keep, torch.ones_like(diag), diag)
    jacobi = torch.where(keep[:, None], dictionary, (b - a @ dictionary) / pivots[:, None] + dictionary)
    norms = torch.linalg.vector_norm(jacobi, dim=1).clamp_min(1.0)
    tol = 8 * torch.finfo(a.dtype).eps
    for _ in range(k):
        system = torch.diagonal_scatter(lower / norms, pivots)
        u = torch.linalg.solve_triangular(system, rhs, upper=False)
        new = torch.linalg.vector_norm(u, dim=1).clamp_min(1.0)
        converged = bool(((new - norms).abs() <= tol * new).all())
        norms = new
        if converged:
            break
    return u / norms[:, None]


def dictionary_step(
    dictionary: torch.Tensor, a: torch.Tensor, b: torch.Tensor, *, steps: int, tol: float = 0.0
) -> torch.Tensor:
    """Minimise ½ tr(Dᵀ A D) − ⟨B, D⟩ over atoms in the unit ball, from ``dictionary`` [K, N], by
    at most ``steps`` :func:`block_coordinate_sweep` s, stopping early once a sweep changes no entry
    by more than ``tol`` times the largest entry. The objective never increases. Returns D [K, N]."""
    d = dictionary
    for _ in range(steps):
        new = block_coordinate_sweep(d, a, b)
        change = float((new - d).abs().max())
        d = new
        if change <= tol * float(d.abs().max()):
            break
    return d


class SparseCoding(Model):
    """Sparse coding of ``config.shape`` signals over ``config.atoms`` learned unit-norm atoms.

    ``encode(x)``: x float [B, *shape] -> codes [B, K] (FISTA to ``config.tol``);
    ``decode(z)``: z [B, K] -> zD, float [B, *shape]; ``loss(x)``: the mean lasso objective
    ½‖x − zD‖² + λ‖z‖₁ per signal of the exact-to-``tol`` codes (what validation reports);
    ``update(x, ...)``: one online or full-batch step (see the module).
    """

    Config = SparseCodingConfig
    name = "sparse-coding"
    description = "Sparse coding, dictionary learned online (Mairal 2009) or full-batch; FISTA codes"
    config: SparseCodingConfig

    def __init__(self, config: SparseCodingConfig) -> None:
        super().__init__(config)
        k, n = config.atoms, config.dims
        self.dictionary = nn.Parameter(normalize_rows(torch.randn(k, n)), requires_grad=False)
        self.register_buffer("stats_a", torch.zeros(k, k))
        self.register_buffer("stats_b", torch.zeros(k, n))
        self.register_buffer("updates", torch.zeros((), dtype=torch.int64))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))
        # full-batch: the dictionary the epoch's codes use, and which epoch the statistics belong to
        self.register_buffer("epoch_dictionary", torch.zeros(k, n) if config.algorithm == "batch" else torch.zeros(0))
        self.register_buffer("epoch", torch.full((), -1, dtype=torch.int64))

    # -- coding -------------------------------------------------------------------------------------
    def signals(self, x: torch.Tensor) -> torch.Tensor:
        """Data x [B, *shape] (finite floats) -> signals [B, N] in the dictionary's dtype and device."""
        return self.check_data(x).flatten(1).to(self.dictionary.dtype)

    def codes(
        self, x: torch.Tensor, *, init: torch.Tensor | None = None, dictionary: torch.Tensor | None = None, **options
    ) -> LassoResult:
        """Lasso codes of signals x [B, N] over ``dictionary`` (default: the model's) by the config's
        solver, or by FISTA warm-started from ``init`` [B, K]; ``options`` override the config's
        tol / stop / max_iter."""
        c = self.config
        settings = {"tol": c.tol, "stop": c.stop, "max_iter": c.max_iter, "nonneg": c.nonneg, **options}
        d = self.dictionary if dictionary is None else dictionary
        auto = compiled_path(x) or len(x) >= HOMOTOPY_ROWS
        if init is None and (c.solver == "homotopy" or (c.solver == "auto" and auto)):
            return homotopy(x, d, c.lam, **settings)
        return fista(x, d, c.lam, init=init, restart=False, **settings)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Sparse codes: x float [B, *shape] -> z [B, K] (lasso solution to ``config.tol``)."""
        return self.codes(self.signals(x)).codes

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstruction zD: codes [B, K] -> float [B, *shape]."""
        if z.dim() != 2 or z.shape[1] != self.config.atoms:
            raise ValueError(
                f"z must have shape (B, {self.config.atoms}) (one coefficient per atom); got {tuple(z.shape)}"
            )
        return (z.to(self.dictionary.dtype) @ self.dictionary).view(len(z), *self.config.shape)

    @torch.no_grad()
    def loss(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
        """Mean lasso objective ½‖x − zD‖² + λ‖z‖₁ per signal (and the mean number of non-zeros)."""
        v = self.signals(x)
        z = self.codes(v).codes
        objective = lasso_objective(v, z, self.dictionary, self.config.lam).mean()
        return objective, {"nonzero": (z != 0).sum(1).double().mean()}

    # -- training -------------------------------------------------------------------------------------
    def update(
        self,
        x: torch.Tensor,
        *,
        step: int,
        generator: torch.Generator | None,
        reduce: Reduce | None = None,
        epoch: int | None = None,
    ) -> dict[str, float]:
        """One dictionary-learning step on batch x float [B, *shape] (see the module).

        Returns metrics: ``objective`` (mean lasso objective of the batch's codes, under the
        dictionary they were computed with), ``nonzero`` (mean non-zero codes per signal),
        ``iterations`` (mean FISTA iterations) and ``reinitialized`` (atoms replaced).
        """
        return self.step_signals(self.signals(x), reduce=reduce, epoch=epoch)

    @torch.no_grad()
    def step_signals(
        self, v: torch.Tensor, *, reduce: Reduce | None = None, epoch: int | None = None
    ) -> dict[str, float]:
        """:meth:`update` on signals v [B, N]; ``reduce`` None: a single process."""
        c = self.config
        if not self.initialized:
            self._initialize(v, reduce)
        if c.algorithm == "batch":
            return self._batch_step(v, reduce, 0 if epoch is None else int(epoch))
        result = self.codes(v)
        z = result.codes
        objective = lasso_objective(v, z, self.dictionary, c.lam)
        stats = self._reduce(
            torch.cat([(z.T @ z).flatten(), (z.T @ v).flatten(), self._metrics(z, objective, result)]), reduce
        )
        a, b, metrics = self._split(stats)
        self.updates += 1
        t, eta = float(self.updates), float(len(v))
        theta = t * eta if t < eta else eta * eta + t - eta
        beta = (theta + 1 - eta) / (theta + 1)
        self.stats_a.mul_(beta).add_(a)
        self.stats_b.mul_(beta).add_(b)
        d = dictionary_step(self.dictionary, self.stats_a, self.stats_b, steps=c.dictionary_steps)
        self._set_dictionary(d, rescale_statistics=True)
        dead = self._reinitialize(v, z, reduce)
        return {**metrics, "reinitialized": float(dead)}

    def _batch_step(self, v: torch.Tensor, reduce: Reduce | None, epoch: int) -> dict[str, float]:
        c = self.config
        if epoch != int(self.epoch):  # a new alternation starts from the current dictionary
            if int(self.epoch) >= 0:  # atoms no signal of the finished epoch used: replacing them cannot hurt
                self._reinitialize(v, self.codes(v).codes, reduce, exact_zero=True)
            self.epoch_dictionary.copy_(self.dictionary)
            self.stats_a.zero_()
            self.stats_b.zero_()
            self.epoch.fill_(epoch)
        result = self.codes(v, dictionary=self.epoch_dictionary)
        z = result.codes
        objective = lasso_objective(v, z, self.epoch_dictionary, c.lam)
        stats = self._reduce(
            torch.cat([(z.T @ z).flatten(), (z.T @ v).flatten(), self._metrics(z, objective, result)]), reduce
        )
        a, b, metrics = self._split(stats)
        self.stats_a.add_(a)
        self.stats_b.add_(b)
        self.updates += 1
        d = dictionary_step(
            self.dictionary, self.stats_a, self.stats_b, steps=c.dictionary_max_steps, tol=c.dictionary_tol
        )
        # the epoch's statistics belong to its codes: they are not rescaled with the atoms
        self._set_dictionary(d, rescale_statistics=False)
        return {**metrics, "reinitialized": 0.0}

    # -- helpers ----------------------------------------------------------------------------------
    @staticmethod
    def _reduce(flat: torch.Tensor, reduce: Reduce | None) -> torch.Tensor:
        return reduce(flat) if reduce is not None else flat

    @staticmethod
    def _metrics(z: torch.Tensor, objective: torch.Tensor, result: LassoResult) -> torch.Tensor:
        return torch.stack([objective.mean(), (z != 0).sum(1).to(z.dtype).mean(), result.iterations.to(z.dtype).mean()])

    def _split(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        k, n = self.config.atoms, self.config.dims
        a, b, m = flat.split([k * k, k * n, 3])
        metrics = {"objective": float(m[0]), "nonzero": float(m[1]), "iterations": float(m[2])}
        return a.view(k, k), b.view(k, n), metrics

    def _initialize(self, v: torch.Tensor, reduce: Reduce | None) -> None:
        """Atoms from the first batch's signals (normalised; random directions if the batch is smaller
        than K or a signal is zero), averaged across ranks so that every rank starts alike."""
        k = self.config.atoms
        d = torch.zeros_like(self.dictionary)
        take = min(k, len(v))
        d[:take] = v[:take]
        d = self._reduce(d, reduce)
        small = d.norm(dim=1) <= 1e-12
        if small.any():
            gen = torch.Generator().manual_seed(int(self.updates) + 12345)
            d[small] = torch.randn(int(small.sum()), d.shape[1], generator=gen, dtype=d.dtype).to(d.device)
        self.dictionary.copy_(normalize_rows(d))
        self.initialized.fill_(True)

    def _set_dictionary(self, d: torch.Tensor, *, rescale_statistics: bool) -> None:
        norms = d.norm(dim=1)
        used = norms > 1e-12
        scaled = torch.where(used[:, None], d / norms.clamp_min(1e-12)[:, None], self.dictionary)
        if rescale_statistics:
            # codes of the stretched atoms shrink by the same factor: z_k -> z_k ‖d_k‖
            s = torch.where(used, norms, torch.ones_like(norms))
            self.stats_a.mul_(s[:, None] * s[None, :])
            self.stats_b.mul_(s[:, None])
        self.dictionary.copy_(scaled)

    def _reinitialize(self, v: torch.Tensor, z: torch.Tensor, reduce: Reduce | None, exact_zero: bool = False) -> int:
        """Replace unused atoms (diagonal of A below ``dead_fraction`` of its mean, or exactly zero)
        with the batch's worst-reconstructed signals; returns how many."""
        fraction = self.config.dead_fraction
        diag = self.stats_a.diagonal()
        if fraction <= 0 or not float(diag.mean()) > 0:
            return 0
        dead = ((diag == 0) if exact_zero else (diag <= fraction * diag.mean())).nonzero().flatten()
        if len(dead) == 0:
            return 0
        residual = v - z @ self.dictionary
        worst = residual.norm(dim=1).argsort(descending=True)[: len(dead)]
        new = torch.zeros(len(dead), v.shape[1], dtype=v.dtype, device=v.device)
        new[: len(worst)] = residual[worst]
        new = self._reduce(new, reduce)
        ok = new.norm(dim=1) > 1e-12
        dead, new = dead[ok], new[ok]
        self.dictionary[dead] = normalize_rows(new)
        self.stats_a[dead] = 0
        self.stats_a[:, dead] = 0
        self.stats_b[dead] = 0
        return len(dead)
