# Sourced by the scripts that run gradserve (demo, train_*, bench/run.sh):
#   start_server OPTIONS...   starts "$bin/gradserve" on a free port; sets $url and $pid
#   stop_server PID           stops one and waits for it
#   stop_all_servers          stops every one started (call it from the script's EXIT trap)
server_pids=()
server_logs=()

start_server() {
    local log
    log=$(mktemp)
    server_logs+=("$log")
    "$bin/gradserve" --port 0 --log-level warning "$@" >"$log" &
    pid=$!
    server_pids+=("$pid")
    for _ in $(seq 100); do grep -q '^listening on ' "$log" && break; sleep 0.1; done
    url="http://$(sed -n 's/^listening on //p' "$log")"
}

stop_server() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

stop_all_servers() {
    kill "${server_pids[@]}" 2>/dev/null || true
    wait "${server_pids[@]}" 2>/dev/null || true
    rm -f "${server_logs[@]}"
}
