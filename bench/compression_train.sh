#!/usr/bin/env bash
# Train the shipped codec weights (src/untaught/models/compression/weights/) from scratch:
#   bench/compression_train.sh
# The mean-scale hyperprior is trained at quality 2 (BASE epochs, then LONG more from those weights,
# Adam 5e-4); from that run, quality 2 is refined at 1e-4 and the other quality levels and the MS-SSIM
# codec (codec-msssim) are fine-tuned at 2e-4, TUNE epochs each (--init-from); the scale hyperprior, the
# factorized prior and WaveOne get OTHER epochs each from scratch. Budgets are epochs of bsds500-codec
# (300 steps of 8 crops of 128x128 from the BSDS500 train+val photographs; Kodak is never seen in
# training), so the work done does not depend on the machine's load. Every run is a run folder under
# runs/codecs/; the script resumes whatever it finds there.
# RUN: what each training command runs under; default: the machine-wide measurement lock. The budgets
# are epochs, so RUN="chrt -i 0 nice -n 19" THREADS=1 (idle priority beside other measurements) trains
# the same weights, only later.
set -euo pipefail
cd "$(dirname "$0")/.."
UNTAUGHT=".venv/bin/untaught"
RUN=${RUN:-flock /tmp/untaught-cpu.lock}
THREADS=${THREADS:-2}
BASE=${BASE:-8}
LONG=${LONG:-38}
TUNE=${TUNE:-4}
OTHER=${OTHER:-3}
WIDTH="--channels 64 --latent 128 --hyper 64"
COMMON="--data bsds500-codec --batch-size 8 --grad-clip 1.0 --no-progress --samples 0"
declare -A LAMBDA=([1]=0.0018 [2]=0.0048 [3]=0.013 [4]=0.035)

# train RUN_FOLDER EPOCHS ARGS...: start the run, or resume it, one epoch per session until EPOCHS
train() {
  local run=$1 epochs=$2; shift 2
  local done; done=$(cat "$run/.epochs" 2>/dev/null || echo 0)
  while [ "$done" -lt "$epochs" ]; do
    done=$((done + 1))
    if [ -f "$run/checkpoints/last.ckpt" ]; then
      $RUN $UNTAUGHT train --resume "$run" --epochs "$done" --threads "$THREADS" --no-progress
    else
      $RUN $UNTAUGHT train "$@" $COMMON --epochs "$done" --threads "$THREADS" --out "$run"
    fi
    echo "$done" > "$run/.epochs"
  done
}

mkdir -p runs/codecs
train runs/codecs/mean-scale-q2-base "$BASE" codec-mean-scale $WIDTH --lmbda "${LAMBDA[2]}" --lr 5e-4
train runs/codecs/mean-scale-q2-long "$LONG" codec-mean-scale $WIDTH --lmbda "${LAMBDA[2]}" --lr 5e-4 \
  --init-from runs/codecs/mean-scale-q2-base
for q in 1 2 3 4; do
  lr=2e-4; [ "$q" = 2 ] && lr=1e-4
  train "runs/codecs/mean-scale-q$q" "$TUNE" codec-mean-scale $WIDTH --lmbda "${LAMBDA[$q]}" --lr "$lr" \
    --init-from runs/codecs/mean-scale-q2-long
done
train runs/codecs/msssim-q2 "$TUNE" codec-msssim $WIDTH --lmbda 8.73 --lr 2e-4 --init-from runs/codecs/mean-scale-q2-long
# WaveOne keeps its last weights: its validation loss moves with the rate controller's alpha, so it
# does not rank the epochs.
train runs/codecs/waveone "$OTHER" codec-waveone --target-bpp 0.3 --select last --lr 5e-4
train runs/codecs/hyperprior-q2 "$OTHER" codec-hyperprior $WIDTH --lmbda "${LAMBDA[2]}" --lr 5e-4
train runs/codecs/factorized-q2 "$OTHER" codec-factorized $WIDTH --lmbda "${LAMBDA[2]}" --lr 5e-4

for q in 1 2 3 4; do $UNTAUGHT codec-ship "runs/codecs/mean-scale-q$q" --quality "$q"; done
for model in hyperprior factorized msssim; do $UNTAUGHT codec-ship "runs/codecs/$model-q2" --quality 2; done
$UNTAUGHT codec-ship runs/codecs/waveone --quality 1
