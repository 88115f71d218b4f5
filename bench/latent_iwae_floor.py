"""Floor under the IWAE-5000 evaluation time of the 784-400-20 VAE: its decoder's two matrix products
alone (5,000 latents of 20 -> 400 -> 784), per test image, at 2 threads; everything else (encoder,
log-sigmoids, the log-sum-exp) comes on top.

    bench/run.sh python bench/latent_iwae_floor.py
"""

import time

import torch

torch.set_num_threads(2)
z, w1, w2 = torch.randn(5000, 20), torch.randn(20, 400), torch.randn(400, 784)
for _ in range(3):
    (z @ w1).relu_() @ w2
start, n = time.perf_counter(), 50
for _ in range(n):
    (z @ w1).relu_() @ w2
seconds = (time.perf_counter() - start) / n
flop = 2 * 5000 * (20 * 400 + 400 * 784)
print(f"decoder products per image: {seconds * 1e3:.2f} ms ({flop / seconds / 1e9:.0f} GFLOP/s)")
print(f"10,000 test images: {seconds * 1e4 / 60:.2f} min of products alone (goal for the whole evaluation: 2 min)")
