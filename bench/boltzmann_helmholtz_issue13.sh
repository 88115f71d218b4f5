#!/usr/bin/env bash
# Issue 13: the fully connected Boltzmann machine next to the RBM (exact log-likelihoods on
# digit-patches, 16 visibles + 8 hidden units each), and the Helmholtz machine (RWS and wake-sleep)
# next to the VAE on statically binarised digits, every model trained for the same wall-clock budget
# through the engine, then the Helmholtz machine and the VAE scored with 1,000 importance samples;
# the Helmholtz machine on dynamically binarised Fashion-MNIST as the issue-13 VAE run was measured.
# Pictures (samples grids) are copied to bench/pictures/.
#
# usage: bench/run.sh bash bench/boltzmann_helmholtz_issue13.sh [MINUTES per model, default 2] [RUN PREFIX]
set -euo pipefail
minutes="${1:-2}"
prefix="${2:-runs/i13}"
budget=(--max-time "$minutes" --epochs 100000 --threads 1 --no-progress)

# Boltzmann machines on 4x4 binary patches: same units, same SGD settings (lr 0.05, momentum 0.5, 5 Gibbs
# sweeps per update, 200 persistent chains); log-likelihoods exact for both (log Z by enumeration)
untaught train full-bm --data digit-patches --hidden 8 --batch-size 100 "${budget[@]}" --out "$prefix-full-bm-h8"
untaught train full-bm --data digit-patches --hidden 0 --batch-size 100 "${budget[@]}" --out "$prefix-full-bm-h0"
untaught train rbm --data digit-patches --hidden 8 --learning-rate 0.05 --momentum 0.5 --k 5 --chains 200 \
  --batch-size 100 "${budget[@]}" --out "$prefix-rbm-h8"
untaught train pixel-histogram --data digit-patches --epochs 1 --threads 1 --no-progress --out "$prefix-pixels-patches"

# latent-variable models on binarised digits: same budget, batch 50, Adam 3e-3
common=(--data digits --binarize static --batch-size 50 --lr 0.003 "${budget[@]}")
untaught train helmholtz --hidden 200 --algorithm rws --k 5 "${common[@]}" --out "$prefix-helmholtz-rws-digits"
untaught train helmholtz --hidden 200 --algorithm wake-sleep --k 1 "${common[@]}" --out "$prefix-helmholtz-ws-digits"
untaught train vae "${common[@]}" --out "$prefix-vae-digits"
for run in helmholtz-rws-digits helmholtz-ws-digits vae-digits; do
  untaught eval "$prefix-$run" --iwae-k 1000 --threads 1
done

# Fashion-MNIST, dynamic binarisation: the protocol of the issue-13 VAE run (runs/issue13-vae-fmnist:
# bench/latent_fmnist_nll.py, 3 minutes, batch 100, Adam 1e-3, 1 thread; IWAE-5000 on the first 1,000
# test images, then 500 samples on all 10,000)
python bench/latent_fmnist_nll.py helmholtz --minutes 3 --k 5000 --images 1000 --threads 1 --out "$prefix-helmholtz-rws-fmnist"
python bench/latent_fmnist_nll.py helmholtz --minutes 3 --k 5000 --images 1000 --threads 1 \
  --set 'algorithm="wake-sleep"' --set k=1 --out "$prefix-helmholtz-ws-fmnist"
for run in helmholtz-rws-fmnist helmholtz-ws-fmnist; do
  untaught eval "$prefix-$run" --iwae-k 500 --threads 1
done

# the operations the restriction changes, timed
python bench/boltzmann_full_vs_rbm.py --threads 1

mkdir -p bench/pictures
for run in full-bm-h8 rbm-h8 helmholtz-rws-digits helmholtz-ws-digits vae-digits helmholtz-rws-fmnist helmholtz-ws-fmnist; do
  cp "$prefix-$run/samples.png" "bench/pictures/i13-$run-samples.png"
done
