"""Input corruptions of denoising autoencoders: the model sees ``corrupt(x)``, the loss the clean ``x``.

Every corruption acts on float inputs in data units (pixels in [0, 1]) and takes its randomness from
an explicit ``torch.Generator``. ``level`` means:

==================  =============================================================================
``gaussian``        standard deviation of additive noise (every input changes)
``masking``         probability that an input is set to 0 (Vincent et al. 2008's masking noise)
``salt-pepper``     probability that an input is replaced by 0 or 1, each with probability 1/2
``block``           probability that a ``block`` x ``block`` cell of the image grid is set to 0, so
                    each pixel is dropped with probability ``level`` (block dropout)
==================  =============================================================================

References:
    Vincent, Larochelle, Bengio, Manzagol. Extracting and Composing Robust Features with Denoising
    Autoencoders. ICML 2008.
    Vincent, Larochelle, Lajoie, Bengio, Manzagol. Stacked Denoising Autoencoders. JMLR 11, 2010.
"""

from __future__ import annotations

from typing import Literal

import torch

Corruption = Literal["none", "gaussian", "masking", "salt-pepper", "block"]
CORRUPTIONS: tuple[str, ...] = ("none", "gaussian", "masking", "salt-pepper", "block")


def _uniform(x: torch.Tensor, generator: torch.Generator | None, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    # Drawn on the CPU generator's device, then moved: the same numbers on every device.
    return torch.rand(shape or tuple(x.shape), generator=generator, dtype=x.dtype).to(x.device)


def corrupt(
    x: torch.Tensor,
    kind: str,
    level: float,
    *,
    block: int = 4,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A corrupted copy of ``x`` (float [B, *shape]; ``block`` needs images [B, C, H, W]).

    ``kind`` and ``level`` as in the module docstring; ``x`` itself is never modified.
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"corruption must be one of {CORRUPTIONS}; got {kind!r}")
    if not x.is_floating_point():
        raise TypeError(f"corrupt needs floating-point inputs; got dtype {x.dtype}")
    if kind == "none" or level == 0:
        return x.clone()
    if level < 0 or (kind != "gaussian" and level > 1):
        expected = "a standard deviation >= 0" if kind == "gaussian" else "a probability in [0, 1]"
        raise ValueError(f"the {kind} corruption level must be {expected}; got {level}")
    if kind == "gaussian":
        noise = torch.randn(tuple(x.shape), generator=generator, dtype=x.dtype).to(x.device)
        return x + level * noise
    if kind == "masking":
        return x.masked_fill(_uniform(x, generator) < level, 0.0)
    if kind == "salt-pepper":
        hit = _uniform(x, generator) < level
        salt = _uniform(x, generator) < 0.5
        return torch.where(hit, salt.to(x.dtype), x)
    # block dropout: drop cells of a block x block grid over each image, each with probability level
    if x.dim() != 4:
        raise ValueError(f"block corruption needs images [B, C, H, W]; got shape {tuple(x.shape)}")
    if block < 1:
        raise ValueError(f"block must be a positive block size in pixels; got {block}")
    b, _, h, w = x.shape
    cells = (b, 1, -(-h // block), -(-w // block))
    keep = (_uniform(x, generator, cells) >= level).to(x.dtype)
    keep = keep.repeat_interleave(block, 2)[:, :, :h].repeat_interleave(block, 3)[:, :, :, :w]
    return x * keep
