"""Decoder likelihoods ``p(x | z)`` of discrete images, from the decoder's raw outputs.

A decoder gives ``P`` numbers per pixel, laid out as ``params [..., C, H, W, P]``:

* ``bernoulli`` (binary data, P = 1): a logit.
* ``categorical`` (any number of levels, P = levels): logits over the levels.
* ``logistic`` (many ordered levels such as 8-bit images, P = 2): the discretised logistic of
  PixelCNN++ (Salimans et al. 2017, one component): a logistic with mean ``mu`` and log-scale
  ``log s`` over the pixel scaled to [-1, 1], integrated over each level's bin of width
  ``2 / (levels - 1)``; the lowest and highest levels take the tails, so the probabilities of the
  levels sum to one exactly.

All log-probabilities are in nats, summed over the pixels of each image.

References:
    Salimans, Karpathy, Chen, Kingma. PixelCNN++. ICLR 2017. https://arxiv.org/abs/1701.05517
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

Likelihood = Literal["auto", "bernoulli", "categorical", "logistic"]
KINDS = ("bernoulli", "categorical", "logistic")


def resolve(kind: str, levels: int | None) -> str:
    """The likelihood to use for data with ``levels`` levels, checking that it fits.

    ``auto`` is Bernoulli for binary data, the discretised logistic for 8-bit data (256 levels),
    categorical otherwise.
    """
    if levels is None or levels < 2:
        raise ValueError(f"the decoder likelihoods model discrete images: levels must be >= 2; got {levels}")
    if kind == "auto":
        return "bernoulli" if levels == 2 else "logistic" if levels >= 256 else "categorical"
    if kind not in KINDS:
        raise ValueError(f"likelihood must be one of {('auto', *KINDS)}; got {kind!r}")
    if kind == "bernoulli" and levels != 2:
        raise ValueError(
            f"likelihood 'bernoulli' models binary data, but the data have {levels} levels; "
            "use 'categorical' or 'logistic' (or --binarize the data)"
        )
    if kind in ("categorical", "logistic") and levels == 2:
        raise ValueError(f"likelihood {kind!r} is for data with more than 2 levels; binary data take 'bernoulli'")
    return kind


def params_per_pixel(kind: str, levels: int) -> int:
    return {"bernoulli": 1, "categorical": levels, "logistic": 2}[kind]


def _logistic_bins(params: torch.Tensor, levels: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    mu, log_s = params[..., 0], params[..., 1].clamp(min=-7.0)
    inv_s = torch.exp(-log_s)
    half = 1.0 / (levels - 1)
    return mu, inv_s, torch.tensor(half, dtype=params.dtype, device=params.device)


def log_prob(kind: str, params: torch.Tensor, x: torch.Tensor, levels: int) -> torch.Tensor:
    """``log p(x | params)`` in nats summed per image: params [..., C, H, W, P], x [B, C, H, W] -> [...].

    ``params`` may carry extra leading dimensions (samples of z) that broadcast against x's batch.
    """
    if kind == "bernoulli":
        logits, target = torch.broadcast_tensors(params.squeeze(-1), x.to(params.dtype))
        out = -F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    elif kind == "categorical":
        shape = torch.broadcast_shapes(params.shape[:-1], x.shape)
        logp = torch.log_softmax(params, -1).expand(*shape, params.shape[-1])
        out = logp.gather(-1, x.long().expand(shape).unsqueeze(-1)).squeeze(-1)
    else:
        mu, inv_s, half = _logistic_bins(params, levels)
        centre = x.to(params.dtype) * (2 * half) - 1.0  # level -> [-1, 1]
        plus, minus = inv_s * (centre - mu + half), inv_s * (centre - mu - half)
        log_cdf_plus = F.logsigmoid(plus)  # lowest level: P(X <= x + half)
        log_one_minus_cdf_minus = -F.softplus(minus)  # highest level: P(X > x - half)
        delta = torch.sigmoid(plus) - torch.sigmoid(minus)
        # mid levels: log of the bin's mass; where it underflows, the density at the centre times the width
        mid_x = inv_s * (centre - mu)
        log_pdf_mid = mid_x - 2 * F.softplus(mid_x) + torch.log(inv_s * 2 * half)
        middle = torch.where(delta > 1e-5, torch.log(delta.clamp(min=1e-12)), log_pdf_mid)
        level = x.expand_as(middle)
        out = torch.where(level == 0, log_cdf_plus, torch.where(level == levels - 1, log_one_minus_cdf_minus, middle))
    return out.flatten(-3).sum(-1)


def mean(kind: str, params: torch.Tensor, levels: int) -> torch.Tensor:
    """The mean of ``p(x | params)`` in [0, 1] (level / (levels - 1)), [..., C, H, W]."""
    if kind == "bernoulli":
        return torch.sigmoid(params.squeeze(-1))
    if kind == "categorical":
        values = torch.arange(levels, dtype=params.dtype, device=params.device) / (levels - 1)
        return (torch.softmax(params, -1) * values).sum(-1)
    return ((params[..., 0] + 1) / 2).clamp(0, 1)  # the logistic's mean, clipped to the range


def sample(
    kind: str, params: torch.Tensor, levels: int, generator: torch.Generator | None, temperature: float = 1.0
) -> torch.Tensor:
    """Draw integer levels [..., C, H, W] (uint8) from ``p(x | params)``; ``temperature`` scales
    the logits' inverse (Bernoulli, categorical) or the logistic's scale."""
    u = torch.rand(params.shape[:-1], generator=generator, dtype=torch.float64).to(params.device)
    if kind == "bernoulli":
        return (u < torch.sigmoid(params.squeeze(-1).double() / temperature)).to(torch.uint8)
    if kind == "categorical":
        cdf = torch.softmax(params.double() / temperature, -1).cumsum(-1)[..., :-1]
        return (cdf < u.unsqueeze(-1)).sum(-1).to(torch.uint8)
    mu, inv_s, half = _logistic_bins(params.double(), levels)
    u = u.clamp(1e-12, 1 - 1e-12)
    value = mu + temperature / inv_s * (torch.log(u) - torch.log1p(-u))  # inverse logistic CDF
    level = torch.round((value.clamp(-1, 1) + 1) / (2 * half))
    return level.clamp(0, levels - 1).to(torch.uint8)
