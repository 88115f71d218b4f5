"""Cached against naive sampling of autoregressive models: the same model, the same generator seed,
the time of each and whether the samples are identical.

Models are built at the sizes of ``autoregressive_nll.py`` (names and variants as there, e.g.
``pixelrnn-diagonal``) for the data ``--shape`` and ``--levels``, with untrained weights: the
time of a network pass does not depend on the weights' values.

    python bench/autoregressive_sampling.py --models pixelcnn++,pixelrnn-diagonal --shape 1,8,8 --levels 17
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from autoregressive_nll import VARIANTS, sizes

from untaught.registry import get_model_class


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="pixelcnn++,pixelrnn-diagonal")
    parser.add_argument("--shape", default="1,8,8", help="C,H,W")
    parser.add_argument("--levels", type=int, default=17)
    parser.add_argument("--samples", type=int, default=16, help="images per measurement")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shape = tuple(int(v) for v in args.shape.split(","))
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.samples} samples of {shape}, "
        f"{args.levels} levels, untrained weights"
    )
    for name in args.models.split(","):
        registered, fixed = VARIANTS.get(name, (name, {}))
        cls = get_model_class(registered)
        hyper = {**fixed, **sizes(name, shape, args.levels)}
        torch.manual_seed(0)
        model = cls(cls.Config(shape=shape, levels=args.levels, **hyper)).eval()
        times, out = {}, {}
        for fast in (True, False):
            start = time.perf_counter()
            out[fast] = model.sample(args.samples, generator=torch.Generator().manual_seed(0), fast=fast)
            times[fast] = time.perf_counter() - start
        same = (out[True] == out[False]).float().mean().item()
        print(
            f"  {name:<18} cached {times[True]:7.2f} s, naive {times[False]:7.2f} s, speed-up "
            f"{times[False] / times[True]:5.1f}x, identical sub-pixels {same:.2%}; {hyper}"
        )


if __name__ == "__main__":
    main()
