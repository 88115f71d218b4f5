"""Normalizing flows: one transform protocol (``transforms.Transform``: forward / inverse with
log|det|, composable, with a context argument) and the flow models built on it.

Layers: ``coupling`` (additive / affine, vector halves, checkerboard and channel masks),
``actnorm``, ``invconv`` (1x1 convolution, plain and LU), ``multiscale`` (squeeze, factor-out),
``autoregressive`` (MAF / IAF layers on MADE), ``cdf`` (mixture-of-logistics CDF), ``continuous``
(FFJORD's CNF), ``flowpp`` (Flow++'s attention conditioner). Models: ``cdf-flow``, ``nice``,
``realnvp``, ``glow``, ``flow++``, ``maf``, ``iaf``, ``ffjord``.
"""

from .cdf import CDFFlow, CDFFlowConfig
from .continuous import FFJORD, FFJORDConfig
from .flow import Flow, FlowConfig
from .flowpp import FlowPlusPlus, FlowPlusPlusConfig
from .glow import Glow, GlowConfig
from .maf import IAF, MAF, MAFConfig
from .realnvp import NICE, NICEConfig, RealNVP, RealNVPConfig

__all__ = [
    "FFJORD",
    "IAF",
    "MAF",
    "NICE",
    "CDFFlow",
    "CDFFlowConfig",
    "FFJORDConfig",
    "Flow",
    "FlowConfig",
    "FlowPlusPlus",
    "FlowPlusPlusConfig",
    "Glow",
    "GlowConfig",
    "MAFConfig",
    "NICEConfig",
    "RealNVP",
    "RealNVPConfig",
]
