#!/usr/bin/env bash
# The deep Boltzmann machine (784-500-1000) on statically binarised Fashion-MNIST, whole: greedy
# pretraining (PRETRAIN epochs per layer, weight doubling), then joint training with mean-field
# inference and persistent chains (5 sweeps per update) at the DBM's own joint learning rate, the last
# epoch's weights kept (the validation bound's log Z comes from a 1,000-temperature AIS, biased by an
# amount that differs between checkpoints, so picking its best epoch would pick the worst-estimated);
# then the test bound with log Z from 100 AIS runs x 14,500 temperatures, and the pictures.
#
# usage: bench/run.sh bash bench/boltzmann_dbm_fashion.sh [PRETRAIN, default 3] [EPOCHS, default 16] [RUN, default runs/dbm-fashion]
set -euo pipefail
pretrain="${1:-3}"
epochs="${2:-16}"
run="${3:-runs/dbm-fashion}"
untaught train dbm --data fashion-mnist --binarize static --hidden 500,1000 --pretrain-epochs "$pretrain" \
  --epochs "$epochs" --ais-betas 1000 --select last --threads 2 --no-progress --max-time 40 --out "$run"
cat "$run/metrics.json"; echo
python - "$run" <<'PY'
import csv, glob, sys
for path in sorted(glob.glob(f"{sys.argv[1]}/log/version_*/metrics.csv")):
    for row in csv.DictReader(open(path)):
        val = {k: v for k, v in row.items() if k.startswith("val") and v}
        if val:
            print("epoch", row.get("epoch"), val)
PY
untaught ais "$run" --betas 14500 --threads 2
untaught rbm-pictures "$run"
cp "$run/filters.png" bench/pictures/dbm-fashion-filters.png
cp "$run/chains.png" bench/pictures/dbm-fashion-chains.png
