#!/usr/bin/env bash
# Issue 13 on Fashion-MNIST: Flow++ next to RealNVP and Glow (8-bit, dequantised; bounds), and the
# hierarchical autoregressive model next to a Gated PixelCNN of about its parameter count (statically
# binarised; the Gated PixelCNN exact, the hierarchy a bound). Every model trains for the same
# wall-clock budget at 2 threads, in epochs of EPOCH_IMAGES training images validated on the first
# VAL_IMAGES validation images (the best epoch kept), then is scored on all 10,000 test images;
# samples go to bench/pictures/.
#
# usage: bench/run.sh bash bench/density_issue13_fashion.sh [MINUTES per model, default 12] [RUN PREFIX]
set -euo pipefail
minutes="${1:-12}"
prefix="${2:-runs/i13f}"
budget=(--max-time "$minutes" --threads 2 --no-progress --samples 0)

sample() {  # sample RUN NAME: 64 samples into bench/pictures/NAME.png
  untaught sample "$1" -n 64 -o "bench/pictures/$2.png"
}

# flows on 8-bit Fashion-MNIST, each at its default architecture
flows=(--data fashion-mnist --epoch-images 6400 --val-images 2000 "${budget[@]}")
untaught train realnvp "${flows[@]}" --out "$prefix-realnvp"
untaught train glow "${flows[@]}" --out "$prefix-glow"
untaught train flow++ "${flows[@]}" --out "$prefix-flowpp"
for run in realnvp glow flowpp; do sample "$prefix-$run" "issue13-fashion-$run-samples"; done

# autoregressive models on statically binarised Fashion-MNIST: the hierarchy (two levels of 16-value
# codes at 14x14 and 7x7, each part a 4-layer Gated PixelCNN of 32 channels; 418k parameters) and one
# Gated PixelCNN of 64 channels (390k parameters)
ar=(--data fashion-mnist --binarize static --epoch-images 3200 --val-images 1000 "${budget[@]}")
untaught train hierarchical-ar --code-epochs 2 "${ar[@]}" --out "$prefix-hierarchical-ar"
untaught train gated-pixelcnn --layers 4 --channels 64 --head 64 --kernel 5 "${ar[@]}" --out "$prefix-gated-pixelcnn"
for run in hierarchical-ar gated-pixelcnn; do sample "$prefix-$run" "issue13-fashion-$run-samples"; done
