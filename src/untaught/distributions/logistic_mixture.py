"""Discretized logistic mixture (PixelCNN++, Salimans et al. 2017) over ``levels`` integer values.

Level x in [0, L) is the bin ``[c - d, c + d]`` around ``c = 2x / (L - 1) - 1`` in [-1, 1],
``d = 1 / (L - 1)``; the end bins reach -inf and +inf, so the L probabilities sum to one exactly:

    P(x) = sum_k pi_k [sigmoid((c + d - mu_k) / s_k) - sigmoid((c - d - mu_k) / s_k)]

Parameters per dimension: ``3 K`` values, [mixture logits (K), means (K), log scales (K)]. Every
probability is computed in log space (``log(sigmoid(a) - sigmoid(b)) = a - softplus(a) -
softplus(b) + log(1 - exp(b - a))``), so no bin underflows to log 0.

References:
    Salimans, Karpathy, Chen, Kingma. PixelCNN++: Improving the PixelCNN with Discretized Logistic
    Mixture Likelihood and Other Modifications. ICLR 2017. https://arxiv.org/abs/1701.05517
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def params_per_dim(components: int) -> int:
    """3 K: mixture logits, means and log scales of ``components`` logistics."""
    if components < 1:
        raise ValueError(f"components must be >= 1; got {components}")
    return 3 * components


def _split(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if params.shape[-1] % 3:
        raise ValueError(f"params must end in 3 K values (logits, means, log scales); got {params.shape[-1]}")
    logits, means, log_scales = params.chunk(3, -1)
    return torch.log_softmax(logits, -1), means, log_scales.clamp(min=-7.0)


def _log_bin(
    c: torch.Tensor, means: torch.Tensor, log_scales: torch.Tensor, levels: int, top: torch.Tensor, bottom: torch.Tensor
) -> torch.Tensor:
    """log P(bin around c) for each component; ``top`` / ``bottom`` mark the end bins."""
    inv = torch.exp(-log_scales)
    d = 1.0 / (levels - 1)
    a = (c + d - means) * inv  # upper edge
    b = (c - d - means) * inv  # lower edge
    middle = a - F.softplus(a) - F.softplus(b) + torch.log(-torch.expm1(b - a))
    first = -F.softplus(-a)  # log sigmoid(a): the bin reaches -inf
    last = -F.softplus(b)  # log (1 - sigmoid(b)): the bin reaches +inf
    return torch.where(bottom, first, torch.where(top, last, middle))


def log_prob(params: torch.Tensor, x: torch.Tensor, levels: int) -> torch.Tensor:
    """Log-probability in nats of integer values ``x`` [...] under ``params`` [..., 3K]: [...]."""
    if params.shape[:-1] != x.shape:
        raise ValueError(f"params must have shape {tuple(x.shape)} + (3 K,); got {tuple(params.shape)}")
    log_pi, means, log_scales = _split(params)
    xi = x.long().unsqueeze(-1)
    c = 2 * xi.to(params.dtype) / (levels - 1) - 1
    return torch.logsumexp(log_pi + _log_bin(c, means, log_scales, levels, xi == levels - 1, xi == 0), -1)


def level_log_probs(params: torch.Tensor, levels: int) -> torch.Tensor:
    """Log-probabilities of every level: ``params`` [..., 3K] -> [..., levels]."""
    log_pi, means, log_scales = _split(params)
    grid = torch.arange(levels, device=params.device)
    c = (2 * grid.to(params.dtype) / (levels - 1) - 1)[:, None]  # [L, 1]
    per = _log_bin(
        c, means.unsqueeze(-2), log_scales.unsqueeze(-2), levels, (grid == levels - 1)[:, None], (grid == 0)[:, None]
    )  # [..., L, K]
    return torch.logsumexp(log_pi.unsqueeze(-2) + per, -1)


def sample(params: torch.Tensor, u: torch.Tensor, levels: int, temperature: float = 1.0) -> torch.Tensor:
    """Draw levels [...] (int64) by inverting the CDF of :func:`level_log_probs` at uniforms ``u``.

    ``temperature`` flattens or sharpens the level distribution: ``p ** (1 / temperature)``, renormalised.
    """
    probs = torch.softmax(level_log_probs(params, levels) / temperature, -1)
    cdf = probs.cumsum(-1)[..., :-1]
    return (cdf < u.to(cdf.dtype).unsqueeze(-1)).sum(-1)
