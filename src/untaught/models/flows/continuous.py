"""FFJORD: a continuous-time flow, dz/dt = f(z, t), solved with torchdiffeq.

The map from data ``x = z(0)`` to noise ``z(T)`` is the ODE's flow; its log-determinant obeys the
instantaneous change of variables, ``d log|det dz(t)/dx| / dt = tr(df/dz)``, so

    log p(x) = log N(z(T)) + int_0^T tr(df/dz(z(t), t)) dt.

The trace is exact in evaluation (D vector-Jacobian products; fine for low dimensions) and
estimated in training with Hutchinson's estimator ``eps^T (df/dz) eps`` (one vector-Jacobian
product, Rademacher ``eps`` drawn once per batch), which makes the training loss an unbiased
estimate. Any network can be the dynamics: invertibility comes from the ODE.

References:
    Grathwohl, Chen, Bettencourt, Sutskever, Duvenaud. FFJORD: Free-form Continuous Dynamics for
    Scalable Reversible Generative Models. ICLR 2019. https://arxiv.org/abs/1810.01367
    Chen, Rubanova, Bettencourt, Duvenaud. Neural Ordinary Differential Equations. NeurIPS 2018.
    https://arxiv.org/abs/1806.07366
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn

from ...draws import draw
from ..base import check_fields
from .flow import Flow, FlowConfig
from .transforms import Compose, Flatten, Pair, Transform


class Dynamics(nn.Module):
    """f(z, t): an MLP on [z, t] (+ context) with softplus activations: [B, D] -> [B, D]."""

    def __init__(self, dims: int, hidden: tuple[int, ...], context: int = 0) -> None:
        super().__init__()
        sizes = (dims + 1 + context, *hidden, dims)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))

    def forward(self, t: torch.Tensor, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        h = torch.cat([z, t.expand(z.shape[0], 1).to(z.dtype)] + ([] if context is None else [context]), 1)
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1:
                h = nn.functional.softplus(h)
        return h


def divergence(f: torch.Tensor, z: torch.Tensor, noise: torch.Tensor | None, create_graph: bool) -> torch.Tensor:
    """tr(df/dz) [B]: exact (one vector-Jacobian product per dimension) if ``noise`` is None, else
    Hutchinson's ``noise^T (df/dz) noise``."""
    if noise is not None:
        (g,) = torch.autograd.grad(f, z, noise, create_graph=create_graph)
        return (g * noise).sum(1)
    total = f.new_zeros(f.shape[0])
    for d in range(z.shape[1]):
        (g,) = torch.autograd.grad(f[:, d].sum(), z, create_graph=create_graph, retain_graph=True)
        total = total + g[:, d]
    return total


class _Augmented(nn.Module):
    """The ODE on (z, log-det): d/dt (z, l) = (f, tr df/dz), for torchdiffeq."""

    def __init__(self, dynamics: nn.Module, context: torch.Tensor | None, noise: torch.Tensor | None) -> None:
        super().__init__()
        self.dynamics, self.context, self.noise = dynamics, context, noise

    def forward(self, t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        z = state[0]
        differentiable = torch.is_grad_enabled()
        with torch.enable_grad():
            if not z.requires_grad:
                z = z.detach().requires_grad_(True)
            f = self.dynamics(t, z, self.context)
            div = divergence(f, z, self.noise, create_graph=differentiable)
        return (f, div) if differentiable else (f.detach(), div.detach())


class ContinuousFlow(Transform):
    """CNF transform over [B, D]: forward integrates t: 0 -> T (data -> noise), inverse T -> 0.

    Args:
        dynamics: f(t, z, context) -> dz/dt, e.g. :class:`Dynamics`.
        time: T.
        rtol, atol: the solver's tolerances; method: a torchdiffeq solver ('dopri5', 'rk4', ...).

    ``noise`` (set by :meth:`hutchinson`) switches the trace to Hutchinson's estimator.
    """

    def __init__(
        self, dynamics: nn.Module, time: float = 1.0, rtol: float = 1e-5, atol: float = 1e-5, method: str = "dopri5"
    ) -> None:
        super().__init__()
        self.dynamics, self.time, self.rtol, self.atol, self.method = dynamics, time, rtol, atol, method
        self.noise: torch.Tensor | None = None

    def _solve(self, x: torch.Tensor, context: torch.Tensor | None, t0: float, t1: float) -> Pair:
        from torchdiffeq import odeint

        func = _Augmented(self.dynamics, context, self.noise)
        times = torch.tensor([t0, t1], dtype=x.dtype, device=x.device)
        options = {"step_size": abs(t1 - t0) / 20} if self.method in ("rk4", "euler", "midpoint") else None
        zs, ls = odeint(
            func,
            (x, x.new_zeros(x.shape[0])),
            times,
            rtol=self.rtol,
            atol=self.atol,
            method=self.method,
            options=options,
        )
        return zs[-1], ls[-1]

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        return self._solve(x, context, 0.0, self.time)

    def inverse(self, z: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        return self._solve(z, context, self.time, 0.0)


@dataclass
class FFJORDConfig(FlowConfig):
    """FFJORD on continuous (or dequantised) data, flattened.

    Attributes:
        hidden: the dynamics MLP's hidden sizes.
        time: integration time T.
        rtol, atol: dopri5 tolerances (training and evaluation).
        exact_trace_dims: evaluation uses the exact trace up to this many dimensions, Hutchinson above.
    """

    hidden: tuple[int, ...] = (64, 64, 64)
    time: float = 1.0
    rtol: float = 1e-5
    atol: float = 1e-5
    exact_trace_dims: int = 64
    preprocess: str = "logit"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(
            self,
            [
                ("hidden", bool(self.hidden) and min(self.hidden) >= 1, "one or more positive layer sizes"),
                ("time", self.time > 0, "a positive number"),
                ("rtol", self.rtol > 0, "a positive number"),
                ("atol", self.atol > 0, "a positive number"),
            ],
        )


class FFJORD(Flow):
    """FFJORD: log_prob [B] nats (exact trace for D <= exact_trace_dims), encode -> z [B, D].

    ``loss`` uses Hutchinson's trace estimator with Rademacher noise from the step's generator.
    """

    Config = FFJORDConfig
    name = "ffjord"
    description = "FFJORD: continuous-time flow, Hutchinson trace in training (Grathwohl et al. 2019)"
    config: FFJORDConfig

    def __init__(self, config: FFJORDConfig) -> None:
        super().__init__(config)
        if config.dims > config.exact_trace_dims:
            self.log_prob_kind = "estimate"
        cnf = ContinuousFlow(
            Dynamics(config.dims, config.hidden, config.num_classes), config.time, config.rtol, config.atol
        )
        self.transform = Compose(Flatten(config.shape), cnf)

    @property
    def cnf(self) -> ContinuousFlow:
        return self.transform.transforms[1]

    def _rademacher(self, shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
        bits = draw(torch.randint, 0, 2, shape, generator=generator, device=self._device).to(self._dtype)
        return 2 * bits - 1

    def loss(self, x, *, generator=None, condition=None):
        """Mean NLL in nats with Hutchinson's trace estimate (unbiased); noise drawn from ``generator``."""
        self.cnf.noise = self._rademacher((len(x), self.config.dims), generator)
        try:
            return super().loss(x, generator=generator, condition=condition)
        finally:
            self.cnf.noise = None

    def log_prob(self, x, *, condition=None, generator=None, samples=None):
        """log p(x) in nats [B] with the exact trace (D <= exact_trace_dims; else Hutchinson, seeded)."""
        if self.config.dims > self.config.exact_trace_dims:
            gen = generator or torch.Generator(device=x.device).manual_seed(1)
            self.cnf.noise = self._rademacher((len(x), self.config.dims), gen)
        try:
            return super().log_prob(x, condition=condition, generator=generator, samples=samples)
        finally:
            self.cnf.noise = None
