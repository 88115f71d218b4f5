"""Training data: splits prepared once, then served as deterministic minibatches.

Every random choice is a function of ``(seed, epoch, step)``, never of hidden global state, so a
run resumed from a checkpoint sees exactly the batches an uninterrupted run would, and ``world``
DDP ranks split each global batch between them (rank ``r`` takes rows ``r::world``): their
averaged gradient equals the single-process gradient of the same global batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..data import Split, get_info, load_split
from ..data.transforms import binarize_dynamic, binarize_static, reduce_levels

Binarize = Literal["static", "dynamic"] | None


@dataclass(frozen=True)
class TrainingData:
    """Train, validation and test splits on the same levels, plus the training-time transform.

    ``dynamic`` means every training batch is freshly binarised from ``source_levels`` (the
    splits then hold the source levels; validation and test are binarised once, statically,
    with a fixed seed, so that their numbers are comparable between runs).
    """

    name: str
    train: Split
    val: Split
    test: Split
    levels: int | None
    dynamic: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])


def run_data(folder: str | Path) -> TrainingData:
    """The dataset a run folder's model was trained on, prepared as it was (binarize / levels from its config)."""
    from ..io import CONFIG, read_json

    train = read_json(Path(folder) / CONFIG)["train"]
    return prepare(train["data"], binarize=train.get("binarize"), levels=train.get("levels"))


def prepare(
    name: str,
    *,
    binarize: Binarize = None,
    levels: int | None = None,
    root: str | None = None,
) -> TrainingData:
    """Load dataset ``name`` and bring it to the levels the model will see.

    ``binarize``: None, 'static' (threshold at half range) or 'dynamic' (resampled Bernoulli per
    training batch); ``levels``: reduce to this many levels (e.g. 2**5) before anything else.
    """
    info = get_info(name)
    if info.levels is None and (binarize or levels):
        raise ValueError(f"{name!r} is continuous data: binarize and levels do not apply")
    if binarize not in (None, "static", "dynamic"):
        raise ValueError(f"binarize must be None, 'static' or 'dynamic'; got {binarize!r}")
    if levels is not None and not 2 <= levels <= info.levels:
        raise ValueError(f"levels must be in [2, {info.levels}] for {name!r}; got {levels}")
    if binarize and levels is not None:
        raise ValueError("give either binarize or levels, not both")
    splits = {s: load_split(name, s, root) for s in ("train", "val", "test")}
    source = info.levels
    if levels is not None and levels != source:
        splits = {s: Split(reduce_levels(v.x, source, levels), v.y, levels) for s, v in splits.items()}
        source = levels
    if binarize == "static":
        splits = {s: Split(binarize_static(v.x, source), v.y, 2) for s, v in splits.items()}
    elif binarize == "dynamic":
        fixed = torch.Generator().manual_seed(1234)
        for s in ("val", "test"):
            splits[s] = Split(binarize_dynamic(splits[s].x, source, fixed), splits[s].y, 2)
    out_levels = 2 if binarize else source
    return TrainingData(name, splits["train"], splits["val"], splits["test"], out_levels, dynamic=binarize == "dynamic")


def step_seed(seed: int, *keys: int) -> int:
    """A well-mixed 63-bit seed from ``seed`` and integer keys (epoch, step, ...)."""
    h = seed & 0xFFFFFFFFFFFFFFFF
    for k in keys:
        h = (h ^ (k + 0x9E3779B97F4A7C15 + (h << 6) + (h >> 2))) & 0xFFFFFFFFFFFFFFFF
        h = (h * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    return h >> 1


class EpochBatches(Sampler):
    """Yields ``(epoch, step, global_indices)`` for each global batch of an epoch.

    The permutation depends only on ``(seed, epoch)``; ``set_epoch`` is called by the trainer.
    """

    def __init__(self, n: int, batch_size: int, *, shuffle: bool, seed: int, drop_last: bool) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        if drop_last and n < batch_size:
            raise ValueError(f"batch_size {batch_size} is larger than the training set ({n} examples)")
        self.n, self.batch_size, self.shuffle, self.seed, self.drop_last = n, batch_size, shuffle, seed, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self) -> Iterator[tuple[int, int, torch.Tensor]]:
        if self.shuffle:
            gen = torch.Generator().manual_seed(step_seed(self.seed, self.epoch))
            order = torch.randperm(self.n, generator=gen)
        else:
            order = torch.arange(self.n)
        for step in range(len(self)):
            yield self.epoch, step, order[step * self.batch_size : (step + 1) * self.batch_size]


class RankBatches(Dataset):
    """Turns ``(epoch, step, global_indices)`` into this rank's ``(x, y)`` share of the batch."""

    def __init__(self, split: Split, *, seed: int, rank: int, world: int, dynamic_from: int | None) -> None:
        self.split, self.seed, self.rank, self.world, self.dynamic_from = split, seed, rank, world, dynamic_from

    def __getitem__(self, key: tuple[int, int, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, step, idx = key
        x, y = self.split.x[idx], self.split.y[idx]
        if self.dynamic_from is not None:
            gen = torch.Generator().manual_seed(step_seed(self.seed, epoch, step, 1))
            x = binarize_dynamic(x, self.dynamic_from, gen)
        return x[self.rank :: self.world], y[self.rank :: self.world]

    def __len__(self) -> int:
        return len(self.split)


def loader(
    data: TrainingData,
    split: str,
    *,
    batch_size: int,
    seed: int,
    rank: int = 0,
    world: int = 1,
) -> DataLoader:
    """A DataLoader over ``split`` for one rank; ``batch_size`` is the global batch size."""
    if batch_size % world:
        raise ValueError(f"batch_size ({batch_size}) must be divisible by the number of devices ({world})")
    part = getattr(data, split)
    training = split == "train"
    sampler = EpochBatches(len(part), batch_size, shuffle=training, seed=seed, drop_last=training)
    dynamic = data.train.levels if (training and data.dynamic) else None
    dataset = RankBatches(part, seed=seed, rank=rank, world=world, dynamic_from=dynamic)
    return DataLoader(dataset, sampler=sampler, batch_size=None, num_workers=0)
