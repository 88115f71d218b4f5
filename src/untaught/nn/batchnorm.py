"""Batch normalisation whose training statistics are pooled over DDP ranks, on any device.

Under DDP every rank holds a share of the global batch; plain batch norm would normalise each share
by its own statistics, so a DDP run would not follow the single-process run. torch's
``nn.SyncBatchNorm`` pools them but refuses CPU tensors; this layer pools them with a
differentiable, synchronous all-reduce of its own (any backend, gloo included), so the
normalisation, its gradient and the running statistics are those of the whole global batch.
Outside a process group (or in eval mode) it is ``nn.BatchNorm2d`` itself; its state dict is too.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


def _ranks() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class _AllReduceSum(torch.autograd.Function):
    """Sum of a tensor over all ranks; its gradient is the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class SyncBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` over [B, C, H, W] whose training statistics come from every rank's batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or _ranks() == 1:
            return super().forward(x)
        all_reduce = _AllReduceSum.apply
        dims = (0, 2, 3)
        count = all_reduce(x.new_tensor([x.numel() / x.shape[1]]))  # positions per channel, all ranks
        mean = all_reduce(x.sum(dims)) / count
        centred = x - mean[None, :, None, None]
        var = all_reduce(centred.pow(2).sum(dims)) / count  # biased, as batch norm normalises
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = 1 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean, factor)
                self.running_var.lerp_(var * count / (count - 1).clamp_min(1), factor)
        out = centred * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            out = out * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return out
