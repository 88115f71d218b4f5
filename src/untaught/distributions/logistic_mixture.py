"""Discretized logistic mixture (PixelCNN++, Salimans et al. 2017) over ``levels`` integer values.

Level x in [0, L) is the bin ``[c - d, c + d]`` around ``c = 2x / (L - 1) - 1`` in [-1, 1],
``d = 1 / (L - 1)``; the end bins reach -inf and +inf, so the L probabilities sum to one exactly:

    P(x) = sum_k pi_k [sigmoid((c + d - mu_k) / s_k) - sigmoid((c - d - mu_k) / s_k)]

Parameters per dimension: ``3 K`` values, [mixture logits (K), means (K), log scales (K)]. Every
probability is computed in log space (``log(sigmoid(a) - sigmoid(b)) = a - softplus(a) -
softplus(b) + log(1 - exp(b - a))``), so no bin underflows to log 0.

Colour pixels (:func:`channel_conditionals`): PixelCNN++ models a pixel's C channels jointly with
one mixture whose component k is shared by the channels, and whose mean of channel c moves linearly
with the earlier channels' values (for RGB: G on R, B on R and G):

    P(x) = sum_k pi_k prod_c P(x_c | mu_ck + sum_{c' < c} a_kcc' x_c', s_ck)

This is written as C per-channel conditionals in the format above, so that every autoregressive
model keeps one likelihood: channel c's mixture weights are the posterior of the component given the
earlier channels, ``pi_k prod_{c' < c} P_k(x_c')`` renormalised; their product is the joint.

References:
    Salimans, Karpathy, Chen, Kingma. PixelCNN++: Improving the PixelCNN with Discretized Logistic
    Mixture Likelihood and Other Modifications. ICLR 2017. https://arxiv.org/abs/1701.05517
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# log scales are clamped to [-7, 7] (the paper's lower bound; the upper one keeps a very wide logistic's
# bins from underflowing to probability 0)
LOG_SCALE_BOUND = 7.0


def params_per_dim(components: int) -> int:
    """3 K: mixture logits, means and log scales of ``components`` logistics."""
    if components < 1:
        raise ValueError(f"components must be >= 1; got {components}")
    return 3 * components


def joint_params(components: int, colors: int) -> int:
    """Parameters per pixel of PixelCNN++'s joint mixture over ``colors`` channels:
    K (1 + 2 C + C (C - 1) / 2) (10 K for RGB)."""
    if components < 1 or colors < 1:
        raise ValueError(f"components and colors must be >= 1; got {components}, {colors}")
    return components * (1 + 2 * colors + colors * (colors - 1) // 2)


def _split(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if params.shape[-1] % 3:
        raise ValueError(f"params must end in 3 K values (logits, means, log scales); got {params.shape[-1]}")
    logits, means, log_scales = params.chunk(3, -1)
    return torch.log_softmax(logits, -1), means, log_scales.clamp(-LOG_SCALE_BOUND, LOG_SCALE_BOUND)


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


def channel_conditionals(params: torch.Tensor, x: torch.Tensor, levels: int) -> torch.Tensor:
    """PixelCNN++'s joint mixture over a pixel's channels as each channel's conditional.

    params [..., K (1 + 2 C + C (C - 1) / 2)]: mixture logits (K), means (C x K), log scales (C x K),
    and the coefficients (C (C - 1) / 2 x K, through tanh) of channel c's mean on each earlier channel
    c' < c, in the order (1, 0), (2, 0), (2, 1), ... (for RGB: G on R, B on R, B on G). x [..., C]:
    the pixel's levels in [0, levels) (floats allowed; only channels before c enter channel c).
    Returns [..., C, 3 K]: channel c's conditional given channels < c, in this module's format; the
    sum of their :func:`log_prob` is the log of the joint mixture (see the module doc).
    """
    colors = x.shape[-1]
    per = joint_params(1, colors)
    k = params.shape[-1] // per
    if k < 1 or params.shape[-1] != k * per or params.shape[:-1] != x.shape[:-1]:
        raise ValueError(
            f"params must have shape {tuple(x.shape[:-1])} + (K x {per},) for a pixel of C = {colors} channels; "
            f"got {tuple(params.shape)}"
        )
    pairs = colors * (colors - 1) // 2
    logits, means, log_scales, coeffs = params.split([k, colors * k, colors * k, pairs * k], -1)
    means, log_scales = means.unflatten(-1, (colors, k)), log_scales.unflatten(-1, (colors, k))
    coeffs = torch.tanh(coeffs).unflatten(-1, (pairs, k))
    level = x.detach().round()
    centre = (2 * x / (levels - 1) - 1).unsqueeze(-1)  # [..., C, 1] in [-1, 1]
    out = []
    for c in range(colors):
        first = c * (c - 1) // 2  # coefficients of channel c on channels 0 .. c-1
        mean = means[..., c, :] + sum(coeffs[..., first + e, :] * centre[..., e, :] for e in range(c))
        out.append(torch.cat([logits, mean, log_scales[..., c, :]], -1))
        if c + 1 < colors:  # the component's posterior after seeing channel c
            v = level[..., c : c + 1]
            scale = log_scales[..., c, :].clamp(-LOG_SCALE_BOUND, LOG_SCALE_BOUND)
            logits = logits + _log_bin(centre[..., c, :], mean, scale, levels, v == levels - 1, v == 0)
    return torch.stack(out, -2)
