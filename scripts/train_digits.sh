#!/usr/bin/env bash
# Trains a dense classifier on the handwritten digits over HTTP: one gradserve (64 inputs, two
# ReLU layers of 64, 10 classes, softmax cross-entropy, Adam) on a free port, gradctl train with
# the validation accuracy after every epoch and the best epoch kept. Usage:
#   scripts/train_digits.sh DATA_DIR [EPOCHS]
set -euo pipefail
data=$1
epochs=${2:-40}
bin=${BIN:-.build/release}
. "$(dirname "$0")/servers.sh"
trap stop_all_servers EXIT
start_server --layers 64,64,64 --activation relu --outputs 10 --loss softmax_cross_entropy --output-bias \
    --seed 1 --optimizer adam --lr 0.001
echo "== gradserve at $url: 64,64,64 relu, 10 classes, softmax cross-entropy; $epochs epochs"
"$bin/gradctl" train --server "$url" --data "$data/train.jsonl" --eval "$data/valid.jsonl" \
    --epochs "$epochs" --batch 32 --shuffle-seed 1 --keep-best
