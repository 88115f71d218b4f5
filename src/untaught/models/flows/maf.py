"""MAF and IAF: stacks of masked autoregressive layers with order reversals between them.

MAF maps data to noise in one pass per layer (fast density, D passes per layer to sample); IAF is
each layer inverted (one pass per layer to sample, D passes per layer for the density, so training
it by maximum likelihood on D-dimensional data costs D network passes per layer and step).
Images are flattened in raster order.

References:
    Papamakarios, Pavlakou, Murray. Masked Autoregressive Flow for Density Estimation. NeurIPS 2017.
    https://arxiv.org/abs/1705.07057
    Kingma et al. Improved Variational Inference with Inverse Autoregressive Flow. NeurIPS 2016.
    https://arxiv.org/abs/1606.04934
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import check_fields
from .autoregressive import autoregressive_stack
from .flow import Flow, FlowConfig
from .transforms import Compose, Flatten


@dataclass
class MAFConfig(FlowConfig):
    """MAF / IAF: ``layers`` MADE layers of hidden sizes ``hidden``, the order reversed between
    layers (``reverse``) or freshly permuted (``random_order``, seeded by ``order_seed``)."""

    layers: int = 5
    hidden: tuple[int, ...] = (256, 256)
    random_order: bool = False
    order_seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(
            self,
            [
                ("layers", self.layers >= 1, ">= 1"),
                ("hidden", bool(self.hidden) and min(self.hidden) >= 1, "one or more positive layer sizes"),
            ],
        )


class MAF(Flow):
    """Masked autoregressive flow: log_prob [B] nats in one pass per layer; encode -> z [B, D]."""

    Config = MAFConfig
    name = "maf"
    description = "Masked autoregressive flow on MADE layers (Papamakarios et al. 2017)"
    config: MAFConfig
    inverted = False

    def __init__(self, config: MAFConfig) -> None:
        super().__init__(config)
        layers = autoregressive_stack(
            config.dims,
            config.layers,
            config.hidden,
            context=config.num_classes,
            inverted=self.inverted,
            random_order=config.random_order,
            order_seed=config.order_seed,
        )
        self.transform = Compose(Flatten(config.shape), *layers)


class IAF(MAF):
    """Inverse autoregressive flow: one pass per layer to sample; log_prob takes D passes per layer."""

    name = "iaf"
    description = "Inverse autoregressive flow: MAF layers inverted, one-pass sampling (Kingma et al. 2016)"
    inverted = True
