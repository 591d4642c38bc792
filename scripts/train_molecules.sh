#!/usr/bin/env bash
# Trains the graph model on the molecules over HTTP: one gradserve --model gcn on a free port,
# gradctl train with a cosine-decayed Adam, the best validation epoch kept. Usage:
#   scripts/train_molecules.sh DATA_DIR [EPOCHS]
# STALENESS=K trains stale-synchronously (gradserve and gradctl --max-staleness K); HISTORY=FILE
# writes every step's loss there.
set -euo pipefail
data=$1
epochs=${2:-200}
bin=${BIN:-.build/release}
batch=32
steps=$(( ( $(wc -l <"$data/train.jsonl") + batch - 1 ) / batch * epochs ))
. "$(dirname "$0")/servers.sh"
trap stop_all_servers EXIT
start_server --model gcn --features 23 --hidden 64,64 --readout sum --seed 1 \
    --optimizer adam --lr 0.003 --lr-schedule cosine --lr-decay-steps "$steps" --lr-final-factor 0.01 \
    --max-staleness "${STALENESS:-0}"
echo "== gradserve --model gcn at $url; $epochs epochs, cosine decay over $steps steps"
"$bin/gradctl" train --server "$url" --data "$data/train.jsonl" --eval "$data/valid.jsonl" \
    --epochs "$epochs" --batch "$batch" --shuffle-seed 1 --keep-best --max-staleness "${STALENESS:-0}" \
    ${HISTORY:+--history "$HISTORY"}
