#!/usr/bin/env bash
# The main job, over HTTP: start gradserve on a free port, run the reference experiment with
# gradctl, train on the synthetic task, and stop the server.
set -euo pipefail
bin=${BIN:-.build/debug}
log=$(mktemp)
"$bin/gradserve" --port 0 --layers 3,3,3 --optimizer sgd --lr 0.001 --log-level warning >"$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q '^listening on ' "$log" && break; sleep 0.1; done
url="http://$(sed -n 's/^listening on //p' "$log")"
echo "== gradserve is listening at $url"

echo "== gradctl demo: the reference experiment, per-sample gradients averaged on the client"
"$bin/gradctl" demo --server "$url"

echo
echo "== gradctl train: 20,000 synthetic samples (t = |x|), batch 32, 3 epochs, over HTTP"
"$bin/gradctl" train --server "$url" --synthetic 20000 --batch 32 --epochs 3 --parallel 4
