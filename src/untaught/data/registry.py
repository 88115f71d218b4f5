"""Dataset registry: every dataset states its shape, its number of discrete levels and its splits.

A split is held in memory. Discrete data (images) are integer levels, ``x: uint8 Tensor[N, C, H, W]``
in ``[0, levels - 1]``; models turn levels into floats themselves, so that likelihoods and bits/dim
are always counted over the dataset's discrete levels. Continuous data (2-D toy densities, tabular
sets) have ``levels = None`` and ``x: float32 Tensor[N, *shape]``. Labels are ``y: int64 Tensor[N]``
(-1 where there are none).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    """One split: ``x`` uint8 [N, C, H, W] in [0, levels) (or float32 [N, *shape] if ``levels`` is
    None), ``y`` int64 [N]."""

    x: torch.Tensor
    y: torch.Tensor
    levels: int | None

    def __post_init__(self) -> None:
        if self.levels is None:
            if self.x.dtype != torch.float32 or self.x.dim() < 2:
                raise ValueError(
                    f"continuous Split.x must be float32 [N, ...]; got {self.x.dtype} {tuple(self.x.shape)}"
                )
        elif self.x.dtype != torch.uint8 or self.x.dim() != 4:
            raise ValueError(f"Split.x must be uint8 [N, C, H, W]; got {self.x.dtype} {tuple(self.x.shape)}")
        if self.y.shape != (self.x.shape[0],):
            raise ValueError(f"Split.y must have shape ({self.x.shape[0]},); got {tuple(self.y.shape)}")

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is, before loading it.

    ``loader(split, root)`` returns a :class:`Split`; ``offline(root)`` says whether every file it
    needs is already on this machine (cached, shipped or installed by a package).
    """

    name: str
    description: str
    shape: tuple[int, ...]
    levels: int | None
    sizes: dict[str, int]
    loader: Callable[[str, str | None], Split] = field(repr=False)
    offline: Callable[[str | None], bool] = field(repr=False)

    @property
    def dims(self) -> int:
        """Number of dimensions of one example (C * H * W)."""
        return math.prod(self.shape)


_REGISTRY: dict[str, DatasetInfo] = {}


def register(info: DatasetInfo) -> DatasetInfo:
    if info.name in _REGISTRY:
        raise ValueError(f"dataset {info.name!r} is registered twice")
    _REGISTRY[info.name] = info
    return info


_RESOLVERS: list[Callable[[str], DatasetInfo | None]] = []


def register_resolver(resolve: Callable[[str], DatasetInfo | None]) -> None:
    """Datasets made on demand from their name (e.g. ``bsds500-patches-12``): ``resolve(name)``
    registers and returns the dataset if it recognises the name, else returns None."""
    _RESOLVERS.append(resolve)


def dataset_names() -> list[str]:
    return sorted(_REGISTRY)


def get_info(name: str) -> DatasetInfo:
    """The registered dataset called ``name`` (or made by a resolver); a clear error lists the known
    names otherwise."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    for resolve in _RESOLVERS:
        info = resolve(name)
        if info is not None:
            return info
    raise ValueError(f"unknown dataset {name!r}; expected one of: {', '.join(dataset_names())}")


def load_split(name: str, split: str, root: str | None = None) -> Split:
    """Load ``split`` ('train', 'val' or 'test') of dataset ``name`` into memory."""
    info = get_info(name)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    data = info.loader(split, root)
    if tuple(data.x.shape[1:]) != info.shape or data.levels != info.levels:
        raise RuntimeError(
            f"dataset {name!r} loaded {tuple(data.x.shape[1:])} with {data.levels} levels; "
            f"its registry entry says {info.shape} with {info.levels} levels"
        )
    return data
