#!/usr/bin/env bash
# The cluster table of `make bench`: the graph model trained by one gradctl over 1, 2 and 4 test
# hosts. Each host is a network namespace with an address in 198.18.0.0/24, linked by a bridge in
# a namespace of its own (nothing is built in the root namespace's network), and its gradserve is
# held to a quarter of a core by a cgroup (cpu.cfs_quota_us). The client host is not limited.
# Everything it made is removed on exit, whatever happens. Usage (as root):
#   bench/cluster.sh MOLECULES_DIR EPOCHS [BATCH ...]   prints one JSON line per batch size (default 32,
#   gradctl's) and host count (ROUNDS=5 rounds, medians; EPOCHS at least 2, the first not counted)
set -euo pipefail
data=$1
epochs=${2:-2}
batches=("${@:3}")
[ ${#batches[@]} -gt 0 ] || batches=(32)
bin=${BIN:-.build/release}
prefix="gsb$$"
cgroups=/sys/fs/cgroup/cpu
namespaces=()
pids=()
teardown() {
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    for ns in "${namespaces[@]}"; do ip netns delete "$ns" 2>/dev/null || true; done
    for h in 1 2 3 4; do rmdir "$cgroups/$prefix-h$h" 2>/dev/null || true; done
}
trap teardown EXIT
add_namespace() { ip netns add "$1"; namespaces+=("$1"); }

add_namespace "$prefix-sw"
ip -n "$prefix-sw" link add br0 type bridge
ip -n "$prefix-sw" link set br0 up
# The client at 198.18.0.2, hosts h1..h4 at 198.18.0.11..14.
index=0
for host in c h1 h2 h3 h4; do
    ns="$prefix-$host"
    address=$([ "$host" = c ] && echo 198.18.0.2 || echo "198.18.0.$((10 + ${host#h}))")
    add_namespace "$ns"
    ip -n "$ns" link add eth0 type veth peer name "p$index" netns "$prefix-sw"
    ip -n "$prefix-sw" link set "p$index" master br0 up
    ip -n "$ns" addr add "$address/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    index=$((index + 1))
done
for h in 1 2 3 4; do
    mkdir -p "$cgroups/$prefix-h$h"
    echo "${PERIOD_US:-100000}" >"$cgroups/$prefix-h$h/cpu.cfs_period_us"
    echo $(( ${PERIOD_US:-100000} / 4 )) >"$cgroups/$prefix-h$h/cpu.cfs_quota_us"
done

# Starts gradserve on host h$1, in its cgroup, with the same seed everywhere (the same state).
start_host() {
    local h=$1 log="/tmp/$prefix-h$1.log"
    # Into the cgroup first, then into the host's network namespace with nsenter, which (unlike
    # `ip netns exec`) leaves /sys as it is, so gradserve sees its CPU quota and does not busy-poll.
    sh -c "echo \$\$ >$cgroups/$prefix-h$h/cgroup.procs && exec nsenter --net=/run/netns/$prefix-h$h $bin/gradserve --host 198.18.0.$((10 + h)) \
        --port 8080 --log-level warning --model gcn --features 23 --hidden 64,64 --optimizer adam --lr 0.003 --seed 1 ${GRADSERVE_OPTIONS:-}" >"$log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do grep -q '^listening on ' "$log" 2>/dev/null && return; sleep 0.1; done
    echo "gradserve on h$h did not start: $(cat "$log")" >&2
    exit 1
}

# Rounds of 1, 2 and 4 hosts, so that the shared machine's drift reaches every host count alike;
# each count's figure is the median of its rounds (a single run moved from 2.6x to 3.6x at 4 hosts).
declare -A rates
for round in $(seq "${ROUNDS:-5}"); do
  for batch in "${batches[@]}"; do
    for count in 1 2 4; do
        for h in $(seq "$count"); do start_host "$h"; done
        servers=()
        for h in $(seq "$count"); do servers+=(--server "http://198.18.0.$((10 + h)):8080"); done
        # gradctl's defaults (partial sums, the compact form, one /step per server and step) at each batch
        # size, the first gradctl's own default: a batch is split evenly over the hosts. The rate is
        # that of epochs 2 to N together (their samples over their time; the first warms up). A short
        # window reads the quota coarsely: at 4 hosts an epoch lasts about 3 of the cgroup's 100 ms
        # periods, so one epoch's rate moves with how many periods' quota it happens to span.
        rates[$batch-$count]+=" $(ip netns exec "$prefix-c" "$bin/gradctl" train "${servers[@]}" --data "$data/train.jsonl" --epochs "$epochs" --batch "$batch" \
            | awk '/: mean loss/ && ++e > 1 { for (i = 2; i <= NF; i++) if ($i == "samples/s,") t += 1 / $(i - 1) } END { printf "%.0f", (e - 1) / t }')"
        kill "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
        pids=()
    done
  done
done
for batch in "${batches[@]}"; do
  for count in 1 2 4; do
    median=$(echo "${rates[$batch-$count]}" | tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    # The hosts' throttled periods over all rounds and batch sizes (cgroup v1 cpu controller), to show that the limit held.
    throttled=0
    for h in $(seq "$count"); do
        throttled=$((throttled + $(awk '$1 == "nr_throttled" {print $2}' "$cgroups/$prefix-h$h/cpu.stat")))
    done
    runs=$(echo ${rates[$batch-$count]} | tr ' ' ',')
    echo "{\"bench\": \"cluster\", \"batch\": $batch, \"hosts\": $count, \"cpu_per_host\": 0.25, \"epochs\": $epochs, \"samples_per_s\": $median, \"runs\": [$runs], \"throttled_periods\": $throttled}"
  done
done
