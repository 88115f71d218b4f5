"""The flows' transform protocol: invertible maps that carry their log-determinant.

A :class:`Transform` maps ``x`` [B, *shape] to ``y`` and returns ``(y, ladj)`` where ``ladj`` [B] is
``log|det dy/dx|`` in nats; ``inverse(y)`` returns ``(x, ladj)`` with the log-determinant of the
inverse map, ``log|det dx/dy|`` (minus the forward one at the same point). Every method takes an
optional ``context`` [B, K] (a conditioning vector, e.g. one-hot labels) that conditioners may read;
transforms that use none ignore it. Transforms compose with :class:`Compose`, and ``Inverse(t)``
swaps a transform's directions (IAF is an inverted MAF).

The direction convention is data -> noise: a flow model's transform maps data to the base
distribution's space, so its density is ``log p(x) = log N(f(x)) + ladj`` (one pass), and sampling
runs ``inverse``.

References:
    Dinh, Krueger, Bengio. NICE: Non-linear Independent Components Estimation. 2014.
    https://arxiv.org/abs/1410.8516 ; the protocol follows nflows (Durkan et al.) and zuko.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
from torch import nn

Pair = tuple[torch.Tensor, torch.Tensor]


def batch_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum over every dimension but the first: [B, ...] -> [B]."""
    return x.flatten(1).sum(1)


class Transform(nn.Module, ABC):
    """An invertible map with a tractable log|det Jacobian|; subclasses define ``forward`` and
    ``inverse``, both ``(tensor [B, ...], context [B, K] | None) -> (tensor, ladj [B])``."""

    @abstractmethod
    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        """x -> (y, log|det dy/dx| [B])."""

    @abstractmethod
    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        """y -> (x, log|det dx/dy| [B])."""


class Compose(Transform):
    """``t_k o ... o t_1``: ``forward`` runs the transforms in the order given, ``inverse`` backwards;
    the log-determinants add up."""

    def __init__(self, *transforms: Transform) -> None:
        super().__init__()
        self.transforms = nn.ModuleList(transforms)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        total = x.new_zeros(x.shape[0])
        for t in self.transforms:
            x, ladj = t(x, context)
            total = total + ladj
        return x, total

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        total = y.new_zeros(y.shape[0])
        for t in reversed(self.transforms):
            y, ladj = t.inverse(y, context)
            total = total + ladj
        return y, total


class Inverse(Transform):
    """``t`` run backwards: ``forward`` is ``t.inverse`` and ``inverse`` is ``t.forward``."""

    def __init__(self, transform: Transform) -> None:
        super().__init__()
        self.transform = transform

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        return self.transform.inverse(x, context)

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        return self.transform(y, context)


class Permutation(Transform):
    """A fixed permutation of the features of [B, D] (or the channels of [B, C, H, W]): ladj 0.

    ``order``: a permutation of ``range(D)``; ``y[:, i] = x[:, order[i]]``. ``Permutation.reverse(D)``
    is the order reversal of NICE/RealNVP/MAF stacks.
    """

    def __init__(self, order: torch.Tensor) -> None:
        super().__init__()
        order = torch.as_tensor(order, dtype=torch.long)
        if not torch.equal(order.sort().values, torch.arange(len(order))):
            raise ValueError(f"order must be a permutation of 0..{len(order) - 1}; got {order.tolist()}")
        self.register_buffer("order", order)
        self.register_buffer("undo", torch.argsort(order))
        # a reversal is a flip, whose backward is a flip too (index_select's is a scatter-add)
        self.reversal = bool(torch.equal(order, torch.arange(len(order) - 1, -1, -1)))

    @classmethod
    def reverse(cls, dims: int) -> Permutation:
        return cls(torch.arange(dims - 1, -1, -1))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        y = x.flip(1) if self.reversal else x.index_select(1, self.order)
        return y, x.new_zeros(x.shape[0])

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        x = y.flip(1) if self.reversal else y.index_select(1, self.undo)
        return x, y.new_zeros(y.shape[0])


class Scaling(Transform):
    """NICE's final diagonal scaling ``y = x * exp(s)`` with a learned ``s`` of the event's shape.

    ladj = sum(s) for every example (NICE, section 3.3).
    """

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(shape))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        return x * self.log_scale.exp(), self.log_scale.sum().expand(x.shape[0])

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        return y * (-self.log_scale).exp(), (-self.log_scale.sum()).expand(y.shape[0])


class Logit(Transform):
    """RealNVP's preprocessing of data in (0, 1): ``y = logit(alpha + (1 - 2 alpha) x)``.

    Keeps the flow away from the boundary (alpha = 0.05 in RealNVP); the log-determinant is part of
    the model's likelihood, so the reported NLL stays that of ``x`` in (0, 1)^D.
    """

    def __init__(self, alpha: float = 0.05) -> None:
        super().__init__()
        if not 0 <= alpha < 0.5:
            raise ValueError(f"alpha must be in [0, 0.5); got {alpha}")
        self.alpha = alpha

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        p = self.alpha + (1 - 2 * self.alpha) * x
        y = torch.log(p) - torch.log1p(-p)
        ladj = math.log(1 - 2 * self.alpha) - torch.log(p) - torch.log1p(-p)
        return y, batch_sum(ladj)

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        p = torch.sigmoid(y)
        x = (p - self.alpha) / (1 - 2 * self.alpha)
        ladj = torch.nn.functional.logsigmoid(y) + torch.nn.functional.logsigmoid(-y) - math.log(1 - 2 * self.alpha)
        return x, batch_sum(ladj)


class Shift(Transform):
    """``y = x + shift`` (a constant, e.g. -0.5 to centre Glow's inputs in [-0.5, 0.5)): ladj 0."""

    def __init__(self, shift: float) -> None:
        super().__init__()
        self.shift = shift

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        return x + self.shift, x.new_zeros(x.shape[0])

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        return y - self.shift, y.new_zeros(y.shape[0])


class Flatten(Transform):
    """[B, *shape] -> [B, prod(shape)] and back: ladj 0."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        return x.flatten(1), x.new_zeros(x.shape[0])

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> Pair:
        return y.view(y.shape[0], *self.shape), y.new_zeros(y.shape[0])
