"""Evaluation: negative log-likelihood in nats and bits per dimension over the data's levels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .data import Split

# what an NLL of each log_prob kind is, as printed after it: a lower bound on log p is an upper bound on the NLL
KIND_NOTE = {"exact": "", "lower bound": " (upper bound on the NLL)", "estimate": " (estimate)"}


@dataclass(frozen=True)
class NLL:
    """Mean NLL of a split: ``nats`` per example, ``bpd`` bits per dimension, and its kind."""

    nats: float
    bpd: float
    stderr_nats: float
    n: int
    kind: str

    def as_dict(self, prefix: str = "test") -> dict[str, float | int | str]:
        return {
            f"{prefix}_nll_nats": self.nats,
            f"{prefix}_bpd": self.bpd,
            f"{prefix}_nll_stderr_nats": self.stderr_nats,
            f"{prefix}_n": self.n,
            f"{prefix}_nll_kind": self.kind,
        }

    def __str__(self) -> str:
        return (
            f"NLL {self.nats:.4f} ± {self.stderr_nats:.4f} nats, {self.bpd:.4f} bits/dim "
            f"over {self.n} examples{KIND_NOTE.get(self.kind, '')}"
        )


def bits_per_dim(nats: float, dims: int) -> float:
    """Convert a per-example NLL in nats to bits per dimension."""
    return nats / (dims * math.log(2))


@torch.no_grad()
def nll_values(model: torch.nn.Module, data: Split, batch_size: int = 512) -> torch.Tensor:
    """Negative ``model.log_prob`` of every example of ``data``: [N] float64 nats (finite, else an error)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    chunks = zip(data.x.split(batch_size), data.y.split(batch_size), strict=True)
    values = torch.cat(
        [
            model.log_prob(x.to(device), **model.condition_for("log_prob", y.to(device))).double().cpu()
            for x, y in chunks
        ]
    )
    model.train(was_training)
    nll = -values
    if not torch.isfinite(nll).all():
        raise FloatingPointError("log_prob returned non-finite values on the evaluation data")
    return nll


def summarize_nll(nll: torch.Tensor, dims: int, kind: str) -> NLL:
    """Mean, standard error and bits/dim of per-example NLLs [N] in nats (``dims`` per example)."""
    stderr = float(nll.std() / math.sqrt(len(nll))) if len(nll) > 1 else float("nan")
    mean = float(nll.mean())
    return NLL(mean, bits_per_dim(mean, dims), stderr, len(nll), kind)


def evaluate_nll(model: torch.nn.Module, data: Split, batch_size: int = 512) -> NLL:
    """Mean negative ``model.log_prob`` over ``data`` in nats, with its standard error and bits/dim."""
    return summarize_nll(nll_values(model, data, batch_size), math.prod(data.x.shape[1:]), model.log_prob_kind)


def paired_difference(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """Mean of a − b over the same examples [N] and its standard error (the paired one: example-to-
    example variation, shared by both models, cancels)."""
    if a.shape != b.shape or a.dim() != 1 or len(a) < 2:
        raise ValueError(
            f"need two [N] vectors over the same N >= 2 examples; got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    d = a - b
    return float(d.mean()), float(d.std() / math.sqrt(len(d)))


def describe_metrics(metrics: dict) -> list[str]:
    """Human-readable lines for a run's metrics.json (NLL, bits/dim, speed)."""
    lines = []
    for split in ("val", "test"):
        if f"{split}_nll_nats" in metrics:
            note = KIND_NOTE.get(metrics[f"{split}_nll_kind"], "")
            lines.append(
                f"{split} NLL: {metrics[f'{split}_nll_nats']:.4f} ± {metrics[f'{split}_nll_stderr_nats']:.4f} nats"
                f" = {metrics[f'{split}_bpd']:.4f} bits/dim{note}"
            )
        elif f"{split}_loss" in metrics:
            lines.append(f"{split} loss: {metrics[f'{split}_loss']:.4f}")
    if metrics.get("train_images_per_second"):
        lines.append(
            f"trained {metrics['epochs']} epochs ({metrics['steps']} steps) in {metrics['fit_seconds']:.1f} s, "
            f"{metrics['train_images_per_second']:.0f} images/s on {metrics['devices']} process(es) x "
            f"{metrics['threads']} thread(s); weights kept: {metrics.get('selected', 'last')}"
        )
    return lines


def record_evaluation(folder, result: NLL, split: str, method: str, seconds: float) -> None:
    """Append ``result`` to the run's metrics.json under ``evaluations`` (for the leaderboard).

    A run without metrics.json (training unfinished) is left untouched.
    """
    import time
    from pathlib import Path

    from .io import METRICS, read_json, write_json

    path = Path(folder) / METRICS
    if not path.is_file():
        return
    metrics = read_json(path)
    record = {k.removeprefix("x_"): v for k, v in result.as_dict("x").items()}
    when = time.strftime("%Y-%m-%d %H:%M")
    record |= {"split": split, "method": method or "default", "seconds": seconds, "date": when}
    metrics.setdefault("evaluations", []).append(record)
    write_json(path, metrics)
