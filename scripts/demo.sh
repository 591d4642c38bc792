#!/usr/bin/env bash
# The main job, over HTTP: start gradserve on a free port, run the reference experiment with
# gradctl, train on the synthetic task, then train the graph model on molecules for an epoch,
# write its curves for TensorBoard and its predictions on the validation molecules, and stop the
# servers. MOLECULES names the folder with train.jsonl and valid.jsonl; the outputs go to runs/demo/.
set -euo pipefail
bin=${BIN:-.build/debug}
molecules=${MOLECULES:-../shared/data/nci-tpsa}
. "$(dirname "$0")/servers.sh"
trap stop_all_servers EXIT

start_server --layers 3,3,3 --optimizer sgd --lr 0.001
echo "== gradserve is listening at $url"

echo "== gradctl demo: the reference experiment, per-sample gradients averaged on the client"
"$bin/gradctl" demo --server "$url"

echo
echo "== gradctl train: 20,000 synthetic samples (t = |x|), batch 32, 3 epochs, over HTTP"
"$bin/gradctl" train --server "$url" --synthetic 20000 --batch 32 --epochs 3

echo
echo "== gradctl train on molecules: a graph network (gradserve --model gcn), one epoch of $molecules over HTTP"
start_server --model gcn --features 23 --hidden 64,64 --optimizer adam --lr 0.003
out=runs/demo
rm -rf "$out/tensorboard"
"$bin/gradctl" train --server "$url" --data "$molecules/train.jsonl" --eval "$molecules/valid.jsonl" --epochs 1 \
    --tensorboard "$out/tensorboard"

echo
echo "== gradctl predict: the trained graph network's outputs for every validation molecule"
"$bin/gradctl" predict --server "$url" --data "$molecules/valid.jsonl" --out "$out/predictions.csv"

echo
echo "== done. The run's curves:  tensorboard --logdir $out/tensorboard"
echo "   Its predictions, one a line in the order of $molecules/valid.jsonl:  $out/predictions.csv"
