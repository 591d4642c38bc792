#!/usr/bin/env bash
# `make bench`: every measurement of BENCHMARKS.md, ours and the peers' side by side in one run.
# Writes bench results as JSON lines to $RESULTS, then BENCHMARKS.md from them.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release
py=.venv-bench/bin/python
results=${RESULTS:-.build/bench-results.jsonl}
molecules=${MOLECULES:-../shared/data/nci-tpsa}
seconds=${BENCH_SECONDS:-2}
wrk_seconds=${WRK_SECONDS:-10}
work=$(mktemp -d)
. scripts/servers.sh
trap 'stop_all_servers; rm -rf "$work"' EXIT
: >"$results"
record() { tee -a "$results"; }
note() { echo "== $*" >&2; }


note "1. model math, one core"
# At 1024 a batch of 3 keeps a call's gradients (25 MB) under glibc's largest mmap threshold
# (32 MB); the batch of 8 (67 MB) shows what fresh pages cost above it.
for case in 3,3,3:32 64,64,64:32 256,256,256:32 1024,1024,1024:3 1024,1024,1024:8; do
    layers=${case%:*} batch=${case#*:}
    "$bin/gradbench" model --layers "$layers" --batch "$batch" --seconds "$seconds" | record
    OPENBLAS_NUM_THREADS=1 "$py" bench/peers.py model --layers "$layers" --batch "$batch" --seconds "$seconds" | record
    # JAX on one core with one XLA thread, as gradbench computes on one.
    XLA_FLAGS=--xla_cpu_multi_thread_eigen=false taskset -c 0 \
        "$py" bench/peers.py jax --layers "$layers" --batch "$batch" --seconds "$seconds" 2>/dev/null | record
done
"$bin/gradbench" copy --seconds "$seconds" | record
[ -f "$molecules/train.jsonl" ] && "$bin/gradbench" graph --data "$molecules/train.jsonl" --seconds "$seconds" | record

note "2. wire format"
# Three interleaved rounds (the report takes the medians): one run of each moves by 15% here.
for _ in 1 2 3; do
    "$bin/gradbench" wire --layers 64,64,64 --samples 32 --seconds "$seconds" --output "$work/gradients.json" | record
    "$py" bench/peers.py wire --document "$work/gradients.json" --seconds "$seconds" | record
done
"$bin/gradbench" wire --layers 256,256,256 --samples 32 --seconds "$seconds" | sed 's/"bench": "wire"/"bench": "wire256"/' | record

note "3. HTTP: wrk against nginx and gradserve"
mkdir -p "$work/nginx/logs"
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 2;
error_log $work/nginx/logs/error.log;
pid $work/nginx/nginx.pid;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$nginx_port;
        location / { default_type application/json; return 200 '{"status":"ok","version":0}'; }
    }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
server_pids+=($!)  # nginx: stopped with the servers
sleep 0.5
start_server --layers 3,3,3
server_pid=$pid
cat >"$work/forward.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"samples": [{"x": [0.5, 0.25, 1.0]}]}'
LUA
cat >"$work/gradients.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"samples": [{"x": [0.5, 0.25, 1.0], "t": 1.1456439}]}'
LUA
run_wrk() {  # name threads connections url [script]
    local out
    out=$(wrk -t"$2" -c"$3" -d"${wrk_seconds}s" --latency ${5:+-s "$5"} "$4")
    local rps p99
    rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    echo "{\"bench\": \"wrk\", \"target\": \"$1\", \"threads\": $2, \"connections\": $3, \"requests_per_s\": $rps, \"p99\": \"$p99\"}" | record
}
for tc in "1 1" "2 16" "2 256"; do
    set -- $tc
    run_wrk nginx "$1" "$2" "http://127.0.0.1:$nginx_port/health"
    run_wrk health "$1" "$2" "$url/health"
    run_wrk forward "$1" "$2" "$url/forward" "$work/forward.lua"
    run_wrk gradients "$1" "$2" "$url/gradients" "$work/gradients.lua"
done

"$bin/gradbench" pingpong | record

note "3b. 10,000 idle keep-alive connections while wrk is served"
"$py" bench/hold.py --url "$url" --count 10000 --pid "$server_pid" --wrk-seconds "$wrk_seconds" | record
stop_server "$server_pid"

note "4. end-to-end training"
start_server --layers 3,3,3 --max-staleness 4; one=$url; one_pid=$pid
start_server --layers 3,3,3 --max-staleness 4; two=$url; two_pid=$pid
start_server --layers 3,3,3 --busy-poll 0; sleeper=$url; sleeper_pid=$pid
start_server --layers 3,3,3 --max-staleness 4 --threads 1; single=$url; single_pid=$pid
# The samples/s figure of gradctl's epoch line ("epoch 1: mean loss 0.24, 28212 samples/s, version 625").
samples_per_s() { awk '/: mean loss/ { for (i = 2; i <= NF; i++) if ($i == "samples/s,") print $(i - 1) }'; }
# One row per line: servers batch parallel mode, then the server URLs.
rows=(
    "1 32 4 per-sample $one" "2 32 4 per-sample $one $two"
    "1 32 4 two-round-trips $one" "2 32 4 two-round-trips $one $two"
    "1 32 4 default $one" "2 32 4 default $one $two"
    "1 32 1 default $one" "1 32 1 no-busy-poll $sleeper"
    "1 32 1 staleness-4 $one" "2 32 2 staleness-4 $one $two" "1 32 1 staleness-4/1-loop $single"
    "1 512 2 default $one" "2 512 2 default $one $two"
)
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
train_once() {  # servers batch parallel mode, then the server URLs; prints two samples/s: the median epoch's, the first's
    local batch=$2 parallel=$3 mode=$4 flag="" servers=()
    shift 4
    for server in "$@"; do servers+=(--server "$server"); done
    # The defaults: partial sums, the compact form, /step. The others ask for the older paths.
    case "$mode" in
        per-sample) flag="--per-sample --tensor-format numbers --two-round-trips" ;;  # the defaults before
        two-round-trips) flag=--two-round-trips ;;
        staleness-*) flag="--max-staleness $(echo "$mode" | tr -dc '0-9/' | cut -d/ -f1)" ;;
        no-busy-poll) flag="--busy-poll 0" ;;  # against a server started with --busy-poll 0 too
    esac
    # Three epochs: the median epoch's rate (as the in-process figure, a median epoch), then the first's,
    # which also carries the connections' setup and the pipeline's first fill.
    local rates
    rates=$("$bin/gradctl" train "${servers[@]}" --synthetic 20000 --batch "$batch" --epochs 3 --parallel "$parallel" $flag | samples_per_s)
    echo "$(echo "$rates" | median) $(echo "$rates" | head -1)"
}
# Five rounds, each running every row and the in-process loop once, so that the machine's drift
# (one run of a second moves by a third here) reaches every row alike; each row is its median.
declare -A runs firsts
for round in 1 2 3 4 5; do
    for batch in 32 512; do
        runs[inprocess-$batch]+=" $("$bin/gradbench" inprocess --layers 3,3,3 --synthetic 20000 --batch "$batch" --epochs 21 \
            | sed 's/.*"samples_per_s": \([0-9.]*\).*/\1/')"
    done
    for index in "${!rows[@]}"; do
        read -r rate first < <(train_once ${rows[$index]})
        runs[$index]+=" $rate"
        firsts[$index]+=" $first"
    done
done
for batch in 32 512; do
    echo "{\"bench\": \"inprocess\", \"layers\": \"3,3,3\", \"batch\": $batch, \"samples_per_s\": $(echo "${runs[inprocess-$batch]}" | median)}" | record
done
for index in "${!rows[@]}"; do
    set -- ${rows[$index]}
    echo "{\"bench\": \"train\", \"servers\": $1, \"batch\": $2, \"parallel\": $3, \"mode\": \"$4\", \"samples_per_s\": $(echo "${runs[$index]}" | median), \"first_epoch_samples_per_s\": $(echo "${firsts[$index]}" | median)}" | record
done
stop_server "$one_pid"; stop_server "$two_pid"; stop_server "$sleeper_pid"; stop_server "$single_pid"
"$bin/gradbench" step --layers 3,3,3 --batch 32 | record
if [ -f "$molecules/train.jsonl" ]; then
    start_server --model gcn --features 23 --hidden 64,64 --optimizer adam --lr 0.003
    rate=$("$bin/gradctl" train --server "$url" --data "$molecules/train.jsonl" --epochs 1 | samples_per_s)
    echo "{\"bench\": \"train_graph\", \"samples_per_s\": $rate}" | record
    stop_server "$pid"
fi

if [ -f "$molecules/train.jsonl" ] && [ "$(id -u)" = 0 ]; then
    note "4b. the graph model over 1, 2 and 4 test hosts, a quarter core each"
    bench/cluster.sh "$molecules" 8 32 128 | record
fi

if [ -f "$molecules/train.jsonl" ]; then
    note "4c. time to accuracy: make train-molecules' run against TensorFlow in process (about 4 minutes)"
    epochs=${GRAPH_EPOCHS:-200}
    steps=$(( ( $(wc -l <"$molecules/train.jsonl") + 31 ) / 32 * epochs ))
    start_server --model gcn --features 23 --hidden 64,64 --readout sum --seed 1 \
        --optimizer adam --lr 0.003 --lr-schedule cosine --lr-decay-steps "$steps" --lr-final-factor 0.01
    # gradctl's defaults, timed by the wall times of its own TensorBoard events.
    "$bin/gradctl" train --server "$url" --data "$molecules/train.jsonl" --eval "$molecules/valid.jsonl" \
        --epochs "$epochs" --batch 32 --shuffle-seed 1 --tensorboard "$work/tensorboard" >/dev/null
    stop_server "$pid"
    targets="0.03 0.025 0.02"
    "$py" bench/tf_gcn.py --events "$work/tensorboard" --target-mae $targets 2>/dev/null | record
    # One thread each: TensorFlow's default (two here) ran these small ops slower (8.7 s against 6.3 s for 10 epochs).
    "$py" bench/tf_gcn.py --data "$molecules" --epochs "$epochs" --threads 1 --target-mae $targets 2>/dev/null | record
fi

note "5 and 6. large models and scaling: per request over HTTP"
for layers in 3,3,3 64,64,64 256,256,256; do
    start_server --layers "$layers"
    for samples in 1 8 64 512; do
        [ "$layers" = 256,256,256 ] && [ "$samples" = 512 ] && continue
        "$bin/gradbench" remote --server "$url" --layers "$layers" --samples "$samples" --seconds "$seconds" | record
    done
    if [ "$layers" = 256,256,256 ]; then
        for format in numbers b64; do
            "$bin/gradbench" remote --server "$url" --layers "$layers" --samples 32 --format "$format" --seconds "$seconds" | record
            "$bin/gradbench" remote --server "$url" --layers "$layers" --samples 32 --format "$format" --reduce-sum --seconds "$seconds" | record
        done
    fi
    stop_server "$pid"
done

note "writing BENCHMARKS.md"
"$py" bench/report.py "$results" >BENCHMARKS.md
