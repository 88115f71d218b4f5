"""Glow: steps of actnorm, invertible 1x1 convolution and affine coupling, in a multi-scale flow.

On images each of ``scales`` levels squeezes, runs ``steps`` flow steps, and (but the last) factors
out half of the channels; the coupling splits the channels in halves and uses Glow's
``sigmoid(h + 2)`` scale. On vectors (tabular data, 2-D toys) it is ``steps`` steps of actnorm,
invertible linear map and a half-mask coupling. Sampling takes a ``temperature`` (0.7 in the
paper), and ``interpolate`` walks the straight line between two images' latents.

Not here: the learned prior of the factored-out halves (Glow's split uses a conditional Gaussian;
ours is standard normal, as in RealNVP) and the additive coupling variant.

References:
    Kingma, Dhariwal. Glow: Generative Flow with Invertible 1x1 Convolutions. NeurIPS 2018.
    https://arxiv.org/abs/1807.03039
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..base import check_fields
from .actnorm import ActNorm
from .coupling import Coupling, channel_mask, half_mask
from .flow import Flow, FlowConfig, check_multiscale_shape
from .invconv import InvertibleConv1x1, LUInvertibleConv1x1
from .multiscale import MultiScale, Squeeze, squeezed
from .transforms import Compose


@dataclass
class GlowConfig(FlowConfig):
    """Glow.

    Attributes:
        scales: L, levels of the multi-scale architecture (images).
        steps: K, flow steps per level (images) or in all (vectors).
        hidden: conditioner width (channels for images, units for vectors).
        invconv: 'lu' (LU-parameterised, O(C) log-det) or 'plain' (free matrix, slogdet).
    """

    scales: int = 2
    steps: int = 8
    hidden: int = 128
    invconv: Literal["lu", "plain"] = "lu"
    preprocess: str = "center"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(
            self,
            [
                ("scales", self.scales >= 1, ">= 1"),
                ("steps", self.steps >= 1, ">= 1"),
                ("hidden", self.hidden >= 1, ">= 1"),
                ("invconv", self.invconv in ("lu", "plain"), "'lu' or 'plain'"),
            ],
        )
        check_multiscale_shape(self.shape, self.scales, f"scales={self.scales}", "Glow", min_dims=2)


class Glow(Flow):
    """Glow: log_prob [B] nats, encode -> z [B, D], sample(temperature=0.7), interpolate."""

    Config = GlowConfig
    name = "glow"
    description = "Glow: actnorm, invertible 1x1 convolutions, affine coupling, multi-scale (Kingma & Dhariwal 2018)"
    config: GlowConfig

    def __init__(self, config: GlowConfig) -> None:
        super().__init__(config)
        c, k = config, config.num_classes
        invconv = LUInvertibleConv1x1 if c.invconv == "lu" else InvertibleConv1x1
        if len(c.shape) == 1:
            d = c.dims
            self.transform = Compose(
                *(
                    Compose(
                        ActNorm(d),
                        invconv(d),
                        Coupling.vector(half_mask(d, 0), (c.hidden, c.hidden), k, scale="sigmoid"),
                    )
                    for _ in range(c.steps)
                )
            )
            return
        shape = tuple(c.shape)
        shapes, blocks = [shape], []
        for scale in range(c.scales):
            shape = squeezed(shape)
            steps = [
                Compose(
                    ActNorm(shape[0]),
                    invconv(shape[0]),
                    Coupling.image(channel_mask(shape, 0), c.hidden, 0, k, scale="sigmoid"),
                )
                for _ in range(c.steps)
            ]
            blocks.append(Compose(Squeeze(), *steps))
            shapes.append(shape)
            if scale < c.scales - 1:
                shape = (shape[0] // 2, *shape[1:])
        self.transform = MultiScale(blocks, shapes)
