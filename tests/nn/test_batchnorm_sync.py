"""SyncBatchNorm2d in two gloo processes (CPU) equals batch norm over the whole batch: output, input
and parameter gradients, running statistics."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from untaught.nn.batchnorm import SyncBatchNorm2d


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(6, 3, 4, 5, generator=g, dtype=torch.float64), torch.randn(6, 3, 4, 5, generator=g)


def _layer() -> SyncBatchNorm2d:
    torch.manual_seed(1)
    layer = SyncBatchNorm2d(3).double()
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.normal_()
    return layer


def _run(x: torch.Tensor, weights: torch.Tensor, layer: SyncBatchNorm2d) -> dict[str, torch.Tensor]:
    x = x.clone().requires_grad_(True)
    out = layer(x)
    (out * weights.double()).sum().backward()
    return {
        "out": out.detach(),
        "x_grad": x.grad,
        "weight_grad": layer.weight.grad,
        "bias_grad": layer.bias.grad,
        "running_mean": layer.running_mean,
        "running_var": layer.running_var,
    }


def _worker(rank: int, world: int, store: str, results: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    x, weights = _batch()
    part = slice(rank * 3, rank * 3 + 3)  # each rank holds half of the batch
    result = _run(x[part], weights[part], _layer())
    dist.all_reduce(result["weight_grad"])  # what DDP does with parameter gradients (summed here)
    dist.all_reduce(result["bias_grad"])
    torch.save(result, f"{results}.{rank}")
    dist.barrier()  # neither rank tears its sockets down while the other still talks
    dist.destroy_process_group()


def test_two_ranks_normalise_by_the_statistics_of_the_whole_batch(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / "store"), str(tmp_path / "result")), nprocs=2, join=True)
    x, weights = _batch()
    whole = _run(x, weights, _layer())  # one process: plain batch norm over all 6 examples
    ranks = [torch.load(tmp_path / f"result.{r}", weights_only=True) for r in range(2)]
    for key in ("out", "x_grad"):
        torch.testing.assert_close(torch.cat([r[key] for r in ranks]), whole[key], rtol=0, atol=1e-12, msg=key)
    for key in ("weight_grad", "bias_grad", "running_mean", "running_var"):
        for r in ranks:
            torch.testing.assert_close(r[key], whole[key], rtol=0, atol=1e-12, msg=key)
