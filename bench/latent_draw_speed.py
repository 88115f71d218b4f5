"""DRAW at the paper's MNIST configuration (T = 64, 256-unit LSTMs, z = 100 per step, read 2x2,
write 5x5): wall time of one training step (forward, backward, fused Adam) on a batch of 128
binarised Fashion-MNIST images, with and without attention.

    python bench/latent_draw_speed.py --threads 2 --steps 10
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up steps)")
    p.add_argument("--batch", type=int, default=128)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from untaught.data.transforms import binarize_dynamic
    from untaught.models.latent import DRAW, DRAWConfig
    from untaught.training import prepare
    from untaught.training.module import adam

    data = prepare("fashion-mnist", binarize="dynamic")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}")
    for attention in (True, False):
        torch.manual_seed(0)
        model = DRAW(DRAWConfig(steps=64, encoder=256, decoder=256, latent=100, read=2, write=5, attention=attention))
        opt = adam(model.parameters(), lr=1e-3)
        times = []
        for step in range(args.steps + 2):
            gen = torch.Generator().manual_seed(step)
            x = binarize_dynamic(data.train.x[step * args.batch : (step + 1) * args.batch], 256, gen)
            started = time.perf_counter()
            loss, _ = model.loss(x, generator=gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step >= 2:
                times.append(time.perf_counter() - started)
        params = sum(p.numel() for p in model.parameters())
        print(
            f"DRAW T=64 {'with' if attention else 'without'} attention ({params:,} parameters): "
            f"median {statistics.median(times):.3f} s per batch of {args.batch}, min {min(times):.3f} s "
            f"over {len(times)} steps"
        )


if __name__ == "__main__":
    main()
