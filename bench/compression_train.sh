#!/usr/bin/env bash
# Train the shipped codec weights (src/untaught/models/compression/weights/) from scratch:
#   bench/compression_train.sh            # every model, in locked chunks of at most CHUNK minutes
# The mean-scale hyperprior is trained at quality 2 first (BASE minutes), then fine-tuned to each
# other quality level (TUNE minutes each, --init from the base) and to MS-SSIM (codec-msssim); the
# scale hyperprior, the factorized prior and WaveOne get their own budgets below. Every run is
# an ordinary run folder under runs/codecs/, resumable: rerunning the script continues where it stopped.
# Crops of BSDS500 train+val photographs (dataset bsds500-codec); Kodak is never seen in training.
set -euo pipefail
cd "$(dirname "$0")/.."
UNTAUGHT=".venv/bin/untaught"
CHUNK=${CHUNK:-20}      # minutes per locked session
BASE=${BASE:-60}        # minutes of the base mean-scale model
TUNE=${TUNE:-20}        # minutes of each fine-tuned quality level
OTHER=${OTHER:-30}      # minutes of each other model
WIDTH="--channels 64 --latent 128 --hyper 64"
COMMON="--data bsds500-codec --batch-size 8 --lr 5e-4 --grad-clip 1.0 --threads 2 --no-progress --samples 0"
declare -A LAMBDA=([1]=0.0018 [2]=0.0048 [3]=0.013 [4]=0.035)

# train RUN BUDGET ARGS...: start the run, or resume it, one locked chunk at a time until BUDGET minutes
# (the budget of a run is cumulative over its sessions; RUN/.budget records the minutes done)
train() {
  local run=$1 budget=$2; shift 2
  local done; done=$(cat "$run/.budget" 2>/dev/null || echo 0)
  while [ "$done" -lt "$budget" ]; do
    done=$(( done + CHUNK < budget ? done + CHUNK : budget ))
    if [ -f "$run/checkpoints/last.ckpt" ]; then
      flock /tmp/untaught-cpu.lock $UNTAUGHT train --resume "$run" --max-time "$done" --no-progress
    else
      flock /tmp/untaught-cpu.lock $UNTAUGHT train "$@" $COMMON --max-time "$done" --out "$run"
    fi
    echo "$done" > "$run/.budget"
  done
}

mkdir -p runs/codecs
train runs/codecs/mean-scale-q2 "$BASE" codec-mean-scale $WIDTH --lmbda "${LAMBDA[2]}"
for q in 1 3 4; do
  train "runs/codecs/mean-scale-q$q" "$TUNE" codec-mean-scale $WIDTH --lmbda "${LAMBDA[$q]}" \
    --init runs/codecs/mean-scale-q2
done
train runs/codecs/hyperprior-q2 "$OTHER" codec-hyperprior $WIDTH --lmbda "${LAMBDA[2]}"
train runs/codecs/factorized-q2 "$OTHER" codec-factorized $WIDTH --lmbda "${LAMBDA[2]}"
train runs/codecs/msssim-q2 "$TUNE" codec-msssim $WIDTH --lmbda 8.73 --init runs/codecs/mean-scale-q2
train runs/codecs/waveone "$OTHER" codec-waveone --target-bpp 0.3

for q in 1 2 3 4; do $UNTAUGHT codec-ship "runs/codecs/mean-scale-q$q" --quality "$q"; done
$UNTAUGHT codec-ship runs/codecs/hyperprior-q2 --quality 2
$UNTAUGHT codec-ship runs/codecs/factorized-q2 --quality 2
$UNTAUGHT codec-ship runs/codecs/msssim-q2 --quality 2
$UNTAUGHT codec-ship runs/codecs/waveone --quality 1
