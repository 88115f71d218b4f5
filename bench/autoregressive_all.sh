#!/usr/bin/env bash
# Issue 3's figures that were missing, one model at a time at 2 threads, pictures into bench/pictures/:
#  1. every image model on `digits` in ONE run (0.8 minutes each, the same protocol for all), 64
#     samples of each (ar-digits-NAME-samples.png);
#  2. statically binarised Fashion-MNIST, 2 minutes each (epochs of 6,400 images validated on 1,000,
#     whole test split): PixelCNN++, then the Gated PixelCNN unconditional, class-conditional
#     (log p(x | class)) and conditioned on the 2x-downsampled image (log p(x | small image), the
#     super-resolution model), with class-by-class samples, bottom-half completions and
#     super-resolutions of test images;
#  3. 8-bit Fashion-MNIST at MINUTES_8BIT minutes each: PixelSNAIL with a mixture of 5 discretized
#     logistics (the paper's likelihood; it was a 256-way softmax at 2 minutes) and the Diagonal BiLSTM;
#  4. cached against naive sampling (same model, same seed) of every model with a cached sampler at
#     28x28, and of PixelSNAIL at pytorch-generative's size.
#
# usage: bench/run.sh bash bench/autoregressive_all.sh [MINUTES_8BIT, default 6] [RUN PREFIX, default runs/ar3]
set -euo pipefail
m8="${1:-6}"
prefix="${2:-runs/ar3}"
pics=bench/pictures
nll=(python bench/autoregressive_nll.py --threads 2)
fashion=(--data fashion-mnist --epoch-images 6400 --val-images 1000)

echo "== 1. digits, every image model, 0.8 min each"
"${nll[@]}" --data digits --minutes 0.8 --pictures "$pics/ar-digits" \
  --models fvbn,nade,pixelcnn,gated-pixelcnn,pixelsnail,pixelrnn,pixelrnn-diagonal,pixelcnn++,pixel-transformer

echo "== 2. binarised Fashion-MNIST, 2 min each"
"${nll[@]}" "${fashion[@]}" --binarize static --minutes 2 --models pixelcnn++ --pictures "$pics/ar-fmnist-binary"
# the Gated PixelCNN at the bench's 28x28 size (5 layers x 32 channels), three ways
gated=(untaught train gated-pixelcnn --layers 5 --channels 32 "${fashion[@]}" --binarize static --max-time 2
  --threads 2 --batch-size 64 --no-progress)
"${gated[@]}" --out "$prefix-gated"
"${gated[@]}" --num-classes 10 --out "$prefix-gated-classes"
"${gated[@]}" --lowres 2 --out "$prefix-gated-lowres2"
untaught sample "$prefix-gated-classes" -n 100 -o "$pics/ar-fmnist-binary-gated-classes-samples.png"
untaught complete "$prefix-gated" --rows 14 -n 8 --samples 4 -o "$pics/ar-fmnist-binary-gated-complete.png"
untaught complete "$prefix-gated-lowres2" --superres -n 8 --samples 4 -o "$pics/ar-fmnist-binary-gated-superres.png"

echo "== 3. 8-bit Fashion-MNIST, $m8 min each"
"${nll[@]}" "${fashion[@]}" --minutes "$m8" --models pixelsnail --set mixtures=5 --pictures "$pics/ar-fmnist-8bit"
"${nll[@]}" "${fashion[@]}" --minutes "$m8" --models pixelrnn-diagonal --pictures "$pics/ar-fmnist-8bit"

echo "== 4. sampling: cached vs naive"
python bench/autoregressive_sampling.py --shape 1,28,28 --levels 2 --samples 4 --threads 1 \
  --models nade,pixelcnn,gated-pixelcnn,pixelsnail,pixelrnn,pixelrnn-diagonal,pixelcnn++,pixel-transformer
python bench/pixelcnn_throughput.py --threads 1 --parts sampling --samples 16
