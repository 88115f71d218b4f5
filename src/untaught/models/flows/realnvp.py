"""NICE and RealNVP: stacks of coupling layers.

NICE (Dinh et al. 2014): additive couplings on the flattened data, alternating which half is kept,
then a diagonal scaling layer; volume preserving but for the scaling.

RealNVP (Dinh et al. 2016): affine couplings with the stable ``a * tanh`` scale. On images it uses
the multi-scale architecture: each scale has ``couplings`` checkerboard couplings, a squeeze,
``couplings`` channel-wise couplings, then factors out half of the channels; the last scale has
``couplings + 1`` checkerboard couplings. On vectors (tabular data, 2-D toys) it is a stack of
``2 * couplings`` couplings that alternate halves (the lecture's picture of a 2-D RealNVP).

References:
    Dinh, Krueger, Bengio. NICE: Non-linear Independent Components Estimation. 2014. https://arxiv.org/abs/1410.8516
    Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP. ICLR 2017. https://arxiv.org/abs/1605.08803
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import check_fields
from .coupling import Coupling, channel_mask, checkerboard_mask, half_mask
from .flow import Flow, FlowConfig, check_multiscale_shape
from .multiscale import MultiScale, Squeeze, squeezed
from .transforms import Compose, Flatten, Scaling


@dataclass
class NICEConfig(FlowConfig):
    """NICE: ``couplings`` additive couplings with MLP conditioners of sizes ``hidden``.

    The paper's MNIST model: 4 couplings, 5 hidden layers of 1000 units.
    """

    couplings: int = 4
    hidden: tuple[int, ...] = (256, 256)
    preprocess: str = "none"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(
            self,
            [
                ("couplings", self.couplings >= 2, ">= 2"),
                ("hidden", bool(self.hidden) and min(self.hidden) >= 1, "one or more positive layer sizes"),
            ],
        )


class NICE(Flow):
    """NICE over flattened data: log_prob [B] nats (exact on continuous data, a dequantisation
    bound on discrete data), encode -> z [B, D]."""

    Config = NICEConfig
    name = "nice"
    description = "NICE: additive coupling layers and a scaling layer (Dinh et al. 2014)"
    config: NICEConfig

    def __init__(self, config: NICEConfig) -> None:
        super().__init__(config)
        d, k = config.dims, config.num_classes
        layers = [Coupling.vector(half_mask(d, i), config.hidden, k, affine=False) for i in range(config.couplings)]
        self.transform = Compose(Flatten(config.shape), *layers, Scaling((d,)))


@dataclass
class RealNVPConfig(FlowConfig):
    """RealNVP.

    Attributes:
        couplings: couplings per stage (3 in the paper).
        scales: scales of the multi-scale architecture (images only).
        hidden: conditioner width: channels of the ResNet (images) or MLP layer sizes' width (vectors).
        blocks: residual blocks per conditioner (images); MLP depth (vectors).
    """

    couplings: int = 3
    scales: int = 2
    hidden: int = 64
    blocks: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(
            self,
            [
                ("couplings", self.couplings >= 1, ">= 1"),
                ("scales", self.scales >= 1, ">= 1"),
                ("hidden", self.hidden >= 1, ">= 1"),
                ("blocks", self.blocks >= 0, ">= 0"),
            ],
        )
        check_multiscale_shape(self.shape, self.scales - 1, f"scales={self.scales}", "RealNVP")


class RealNVP(Flow):
    """RealNVP: log_prob [B] nats, encode -> z [B, D] (multi-scale latents concatenated)."""

    Config = RealNVPConfig
    name = "realnvp"
    description = "RealNVP: affine couplings, checkerboard/channel masks, multi-scale (Dinh et al. 2016)"
    config: RealNVPConfig

    def __init__(self, config: RealNVPConfig) -> None:
        super().__init__(config)
        c, k = config, config.num_classes
        if len(c.shape) == 1:
            d = c.dims
            hidden = (c.hidden,) * max(1, c.blocks)
            layers = [Coupling.vector(half_mask(d, i), hidden, k) for i in range(2 * c.couplings)]
            self.transform = Compose(*layers)
            return

        def coupling(mask):
            return Coupling.image(mask, c.hidden, c.blocks, k)

        shape = tuple(c.shape)
        shapes, blocks = [shape], []
        for scale in range(c.scales):
            last = scale == c.scales - 1
            n = c.couplings + 1 if last else c.couplings
            layers = [coupling(checkerboard_mask(shape, i)) for i in range(n)]
            if not last:
                shape = squeezed(shape)
                layers += [Squeeze()] + [coupling(channel_mask(shape, i)) for i in range(c.couplings)]
            blocks.append(Compose(*layers))
            shapes.append(shape)
            shape = (shape[0] // 2, *shape[1:])
        self.transform = MultiScale(blocks, shapes)
