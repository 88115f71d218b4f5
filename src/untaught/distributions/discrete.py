"""Per-dimension likelihoods of discrete data, used by every autoregressive model.

A model predicts, for every dimension, the parameters of that dimension's conditional
distribution: one logit for binary data (Bernoulli) or ``levels`` logits otherwise (categorical).
These functions turn such parameters into log-probabilities in nats and into samples.

Sampling is by inversion of the CDF with uniforms ``u`` given by the caller, so that two
samplers that compute the same parameters with the same uniforms draw the same values: this is
how cached (fast) and naive sampling are checked to agree.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def params_per_dim(levels: int) -> int:
    """Parameters per dimension: 1 logit for binary data, ``levels`` logits otherwise."""
    if levels is None or levels < 2:
        raise ValueError(f"levels must be an integer >= 2 for a discrete likelihood; got {levels}")
    return 1 if levels == 2 else levels


def log_prob(params: torch.Tensor, x: torch.Tensor, levels: int) -> torch.Tensor:
    """Log-probability in nats of integer values ``x`` [...] under ``params`` [..., P].

    P = 1 (binary: a Bernoulli logit) or P = ``levels`` (categorical logits). Returns [...] in
    the parameters' dtype.
    """
    if params.shape[-1] != params_per_dim(levels) or params.shape[:-1] != x.shape:
        raise ValueError(
            f"params must have shape {tuple(x.shape)} + ({params_per_dim(levels)},) for x of shape "
            f"{tuple(x.shape)} with {levels} levels; got {tuple(params.shape)}"
        )
    if levels == 2:
        logits = params.squeeze(-1)
        return -F.binary_cross_entropy_with_logits(logits, x.to(logits.dtype), reduction="none")
    logp = torch.log_softmax(params, -1)
    return logp.gather(-1, x.long().unsqueeze(-1)).squeeze(-1)


def probabilities(params: torch.Tensor, levels: int, temperature: float = 1.0) -> torch.Tensor:
    """Probabilities of every level [..., levels] from ``params`` [..., P] at ``temperature``.

    The temperature divides the logits (1 = the model, < 1 sharper, > 1 flatter).
    """
    logits = params / temperature
    if levels == 2:
        p1 = torch.sigmoid(logits)
        return torch.cat([1 - p1, p1], -1)
    return torch.softmax(logits, -1)


def sample(params: torch.Tensor, u: torch.Tensor, levels: int, temperature: float = 1.0) -> torch.Tensor:
    """Draw values [...] (int64) from ``params`` [..., P] by inverting the CDF at uniforms ``u`` [...].

    The value is the number of CDF steps below ``u``: the same ``params`` and ``u`` always give
    the same value, whichever code computed the parameters.
    """
    probs = probabilities(params, levels, temperature)
    cdf = probs.cumsum(-1)[..., :-1]
    return (cdf < u.to(cdf.dtype).unsqueeze(-1)).sum(-1)
