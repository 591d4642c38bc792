#!/usr/bin/env bash
# DP-SGD on the handwritten digits over HTTP at three privacy levels: for each target ε, a new
# gradserve (the network of train_digits.sh) and gradctl train with the noise multiplier that
# keeps the planned run within (ε, δ). Prints one table row per level. Usage:
#   scripts/train_digits_private.sh DATA_DIR [EPOCHS]
set -euo pipefail
data=$1
epochs=${2:-30}
bin=${BIN:-.build/release}
batch=128
clip=1
delta=1e-5
. "$(dirname "$0")/servers.sh"
out=$(mktemp)
trap 'stop_all_servers; rm -f "$out"' EXIT
printf '| target ε | σ | ε spent | validation accuracy (last epoch) |\n|---|---|---|---|\n'
for epsilon in 1 3 8; do
    start_server --layers 64,64,64 --activation relu --outputs 10 --loss softmax_cross_entropy --output-bias \
        --seed 1 --optimizer adam --lr 0.003
    "$bin/gradctl" train --server "$url" --data "$data/train.jsonl" --eval "$data/valid.jsonl" --epochs "$epochs" \
        --batch "$batch" \
        --dp-clip "$clip" --dp-delta "$delta" --dp-target-epsilon "$epsilon" >"$out"
    stop_server "$pid"
    sigma=$(sed -n 's/.*σ = \([0-9.]*\),.*/\1/p' "$out" | head -1)
    last=$(grep 'eval accuracy' "$out" | tail -1)
    accuracy=$(sed -n 's/.*eval accuracy \([0-9.]*\),.*/\1/p' <<<"$last")
    spent=$(sed -n 's/.*ε = \([0-9.]*\)$/\1/p' <<<"$last")
    printf '| %s | %s | %s | %s |\n' "$epsilon" "$sigma" "$spent" "$accuracy"
done
