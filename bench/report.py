"""Turns the JSON lines of bench/run.sh into BENCHMARKS.md: a table per part, the peer next to ours."""
import datetime
import json
import os
import platform
import subprocess
import sys


def load(path):
    return [json.loads(line) for line in open(path) if line.strip().startswith("{")]


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    memory = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")) / 1024 / 1024
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, {platform.platform()}, {swift}"


def f(value, digits=0):
    return f"{value:,.{digits}f}"


def main(path):
    rows = load(path)
    by = lambda bench: [r for r in rows if r["bench"] == bench]
    out = []
    w = out.append
    w("# Benchmarks\n")
    w(f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC with `make bench` on {machine()}.")
    w("Every peer ran in the same run on the same machine; the machines are shared, so compare ratios, not runs.\n")

    w("## 1. Model math: per-sample gradients of every parameter, one core\n")
    w("gradserve: `gradbench model` (hand-written backprop on single-threaded OpenBLAS, no allocation per sample). "
      "NumPy: the same formulas in float32 with `OPENBLAS_NUM_THREADS=1`, one sample at a time, and vectorised over the batch with einsum. "
      "JAX: `jit(vmap(grad(loss)))` of the same network in float32, on one core with one XLA thread.\n")
    w("| layers | batch | gradserve samples/s | GFLOP/s | NumPy loop samples/s | NumPy vectorised samples/s | JAX samples/s | vs loop | vs vectorised | vs JAX |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    peers = {(r["layers"], r["batch"]): r for r in by("numpy_model")}
    jax = {(r["layers"], r["batch"]): r["samples_per_s"] for r in by("jax_model")}
    for r in by("model"):
        p = peers.get((r["layers"], r["batch"]), {})
        loop, vec = p.get("loop_samples_per_s", float("nan")), p.get("vectorised_samples_per_s", float("nan"))
        j = jax.get((r["layers"], r["batch"]), float("nan"))
        w(f"| {r['layers']} | {r['batch']} | {f(r['samples_per_s'])} | {f(r['gflops'], 2)} | {f(loop)} | {f(vec)} | {f(j)} | "
          f"{r['samples_per_s'] / loop:.1f}x | {r['samples_per_s'] / vec:.2f}x | {r['samples_per_s'] / j:.2f}x |")
    copy = by("copy")
    big = [r for r in by("model") if r["layers"] == "1024,1024,1024"][:1]
    if copy and big:
        bandwidth = copy[0]["copy_gb_per_s"]
        written = big[0]["gradient_bytes"]
        bound = bandwidth * 1e9 / written
        w(f"\nAt 1024,1024,1024 each sample's gradient is {written / 1e6:.1f} MB and must be written at least once "
          f"(the weights, read once per batch, add {written / 1e6:.1f} MB per batch). The machine copies "
          f"{bandwidth:.1f} GB/s (`gradbench copy`: a 256 MiB memcpy, bytes copied per second, each read once and written once), "
          f"so writing the gradients alone bounds the rate at {bound:.0f} samples/s; gradserve reaches "
          f"{big[0]['samples_per_s']:.0f} samples/s, {bound / big[0]['samples_per_s']:.2f}x from that bound.")
    for r in by("graph"):
        w(f"\nGraph model (GCN, hidden {r['hidden']}, sum readout) on the 3,500 training molecules: "
          f"{f(r['graphs_per_s'])} graphs/s per-sample gradients (summed per batch of 32), one core.")

    w("\n## 2. Wire format: a /gradients answer of 32 samples at 64,64,64\n")
    def medians(rows):  # the median of each rate over interleaved rounds
        middle = lambda values: sorted(values)[len(values) // 2]
        return {"bytes": rows[0]["bytes"], "rounds": len(rows),
                **{k: middle([r[k] for r in rows]) for k in ["encode_mb_per_s", "decode_mb_per_s"]}}
    numbers = [r for r in by("wire") if r["format"] == "numbers"]
    orjson = by("orjson")
    if numbers and orjson:
        n, o = medians(numbers), medians(orjson)
        w(f"Each figure is the median of {n['rounds']} interleaved rounds of gradserve and orjson.\n")
        w("| | document | encode MB/s | decode MB/s |")
        w("|---|---:|---:|---:|")
        w(f"| gradserve (JSONWriter, JSONReader into [Float]) | {f(n['bytes'] / 1e6, 2)} MB | {f(n['encode_mb_per_s'])} | {f(n['decode_mb_per_s'])} |")
        w(f"| orjson, same document (to and from Python floats) | {f(o['bytes'] / 1e6, 2)} MB | {f(o['encode_mb_per_s'])} | {f(o['decode_mb_per_s'])} |")
        w(f"| ratio | | {n['encode_mb_per_s'] / o['encode_mb_per_s']:.2f}x | {n['decode_mb_per_s'] / o['decode_mb_per_s']:.2f}x |")
    w256 = {r["format"]: r for r in by("wire256")}
    if len(w256) == 2:
        a, b = w256["numbers"], w256["b64"]
        w("\nCompact form (`\"tensor_format\": \"b64\"`) against number arrays, same answer, 32 samples at 256,256,256:\n")
        w("| format | bytes | encode ms | decode ms |")
        w("|---|---:|---:|---:|")
        for name, r in [("numbers", a), ("b64", b)]:
            w(f"| {name} | {f(r['bytes'])} | {r['encode_ms']:.1f} | {r['decode_ms']:.1f} |")
        w(f"| numbers / b64 | {a['bytes'] / b['bytes']:.2f}x | {a['encode_ms'] / b['encode_ms']:.1f}x | {a['decode_ms'] / b['decode_ms']:.1f}x |")

    w("\n## 3. HTTP: wrk against nginx serving a fixed JSON body, same machine, same run\n")
    wrk = by("wrk")
    w("| wrk | nginx req/s | /health req/s | /forward req/s | /gradients req/s | /health / nginx | /gradients / nginx | p99 nginx, /health, /forward, /gradients |")
    w("|---|---:|---:|---:|---:|---:|---:|---|")
    for t, c in [(1, 1), (2, 16), (2, 256)]:
        cell = {r["target"]: r for r in wrk if r["threads"] == t and r["connections"] == c}
        if len(cell) < 4:
            continue
        ng, h, fw, g = (cell[k] for k in ["nginx", "health", "forward", "gradients"])
        w(f"| -t{t} -c{c} | {f(ng['requests_per_s'])} | {f(h['requests_per_s'])} | {f(fw['requests_per_s'])} | {f(g['requests_per_s'])} | "
          f"{h['requests_per_s'] / ng['requests_per_s']:.0%} | {g['requests_per_s'] / ng['requests_per_s']:.0%} | "
          f"{ng['p99']}, {h['p99']}, {fw['p99']}, {g['p99']} |")
    for r in by("hold"):
        w(f"\n{r['connections']:,} keep-alive connections held open (each made one request, {r['answered']:,} answered): "
          f"meanwhile wrk -t2 -c16 got {f(r['requests_per_s_meanwhile'])} /health req/s; afterwards {r['still_open']:,} of them "
          f"were still open and answered again; gradserve's resident memory peaked at {r['rss_mb']:.0f} MB.")
    for r in by("pingpong"):
        w(f"\nWhat a wake-up costs here (`gradbench pingpong`: two threads bounce 64 bytes over loopback TCP, {r['round_trips']:,} round trips): "
          f"{r['sleeping_us']:.1f} µs a round trip when each sleeps in `recv`, {r['polling_us']:.1f} µs when each polls. "
          f"That is what `--busy-poll` (gradserve and gradctl, 200 µs by default) saves on every request whose answer or next request comes within the window; "
          f"at -c1 it puts /health ahead of nginx, which sleeps.")

    w("\n## 4. End-to-end training: 20,000 synthetic samples at 3,3,3, three epochs\n")
    w("Remote: `gradctl train` against real servers on loopback (each batch split into `parallel` parts, "
      "averaged on the client; default: partial sums, the compact form and one /step per server and step; two-round-trips: "
      "/apply then /gradients; per-sample: the defaults before, every sample's gradient as JSON numbers and two round trips; "
      "staleness K: `--max-staleness K`, up to K + 1 pipelined steps in flight, each computing the batch K + 1 after its own, the ready ones sent together (by default up to ceil((K + 1) / 2) in one /steps request); "
      "(a pipelined step's connection moves to the server's first event loop, so that the pipeline's connections gather on one thread, which lands the steps in turn); "
      "staleness K/1-loop: the same against a server with one event loop (`--threads 1`); "
      "no-busy-poll: the defaults with `--busy-poll 0` on both sides, so that each waiting thread sleeps). In-process: the same loop in Swift with no HTTP (`gradbench inprocess`), at the same batch size. "
      "The rows ran in five interleaved rounds (every row once per round, so that the shared machine's drift reaches them alike); each is the median of its five runs. "
      "A remote run trains three epochs and gives its median epoch's rate, as an in-process run gives the median of its 21 epochs (an in-process epoch takes a few ms); "
      "the last column is the remote run's first epoch, which also carries the connections' setup and the first requests' costs.\n")
    inproc = {r["batch"]: r["samples_per_s"] for r in by("inprocess")}
    w("| loop | batch | samples/s | of in-process at that batch | first epoch: samples/s, of in-process |")
    w("|---|---:|---:|---:|---:|")
    for batch, rate in sorted(inproc.items()):
        w(f"| in-process Swift, no HTTP | {batch} | {f(rate)} | 100% | |")
    for r in by("train"):
        base = inproc.get(r["batch"], float("nan"))
        first = r.get("first_epoch_samples_per_s")
        w(f"| gradctl train, {r['servers']} server(s), {r['mode']}, parallel {r['parallel']} | {r['batch']} | {f(r['samples_per_s'])} | {r['samples_per_s'] / base:.1%} | "
          + (f"{f(first)}, {first / base:.1%} |" if first else "|"))
    default = next((r for r in by("train") if r["servers"] == 1 and r["batch"] == 32 and r["parallel"] == 1 and r["mode"] == "default"), None)
    for r in by("step"):
        w(f"\nWhat one synchronous step at {r['layers']}, batch {r['batch']} costs each side in CPU without sockets (`gradbench step`, "
          f"a {r['request_bytes']:,}-byte request and a {r['response_bytes']:,}-byte answer): {r['server_us']:.1f} µs in the server's handler "
          f"(decoding, the optimizer step, the next batch's gradient sum, the answer) and {r['client_us']:.1f} µs in the client "
          f"(reading the answer, averaging, writing the next request)"
          + (f"; a step of the default parallel-1 row above takes {32e6 / default['samples_per_s']:.0f} µs: the rest is the transport "
             f"(syscalls, loopback, libcurl and the event loops, on both sides)." if default else "."))
    for r in by("train_graph"):
        w(f"\nGraph model on the molecules over HTTP (`gradctl train` with its defaults, one server, one epoch of 3,500): {f(r['samples_per_s'])} samples/s.")
    ours, tf = by("graph_time"), by("tf_graph")
    if ours and tf:
        ours, tf = ours[0], tf[0]
        w(f"\n### Time to accuracy: the molecules' graph model, {ours['epochs']} epochs, against TensorFlow {tf['tensorflow']} in process\n")
        w("gradserve: the server and schedule of `make train-molecules`, one `gradctl train` with its defaults and one validation pass per epoch, "
          "timed by the wall times of its TensorBoard events. TensorFlow: the same network, loss, Adam, cosine schedule, batch, "
          f"epochs and validation passes, batched over the disjoint union of each batch's graphs, one `tf.function` step, "
          f"{tf['threads'] or 'default'} thread(s) (bench/tf_gcn.py).\n")
        w("| | seconds | " + " | ".join(f"seconds to MAE ≤ {t}" for t in ours["seconds_to_mae"]) + " | best MAE |")
        w("|---|---:|" + "---:|" * len(ours["seconds_to_mae"]) + "---:|")
        for name, r in [("gradserve over HTTP", ours), ("TensorFlow in process", tf)]:
            cells = " | ".join("not reached" if v is None else f"{v:.1f}" for v in r["seconds_to_mae"].values())
            w(f"| {name} | {r['seconds']:.1f} | {cells} | {r['best_mae']:.4f} |")
        ratios = [f"{o / t:.2f}x at MAE ≤ {k}" for (k, o), t in zip(ours["seconds_to_mae"].items(), tf["seconds_to_mae"].values()) if o and t]
        w(f"\ngradserve's time over TensorFlow's: {ours['seconds'] / tf['seconds']:.2f}x for the whole run" + (", " + ", ".join(ratios) if ratios else "") + ".")
    clusters = {}
    for r in sorted(by("cluster"), key=lambda r: r["hosts"]):
        clusters.setdefault(r.get("batch", 32), []).append(r)
    for batch, cluster in sorted(clusters.items()):
        if batch == 32:
            w(f"\n### Over hosts: the graph model on the molecules, {cluster[0]['epochs']} epochs, one gradctl with its defaults\n")
            w("Each host is a network namespace (198.18.0.0/24, linked by a bridge in a namespace of its own) whose gradserve is held "
              "to a quarter of a core by a cgroup; the client host is not limited (bench/cluster.sh). The host counts ran in "
              f"{len(cluster[0].get('runs', [0]))} interleaved rounds; each figure is the median of its rounds. A run's figure "
              "is the rate of its epochs after the first, together (a single epoch at 4 hosts spans only about three of the "
              "cgroup's 100 ms periods).\n")
        else:
            w(f"\nThe same with batches of {batch} instead of gradctl's 32, in the same rounds: each host's share of a step "
              f"is {batch // 4} samples at 4 hosts instead of 8, against the same fixed cost per request.\n")
        w("| hosts | samples/s (median) | every round | speed-up: of the medians | speed-up: median of each round's own |")
        w("|---:|---:|---|---:|---:|")
        single = cluster[0].get("runs", [cluster[0]["samples_per_s"]])
        for r in cluster:
            runs = r.get("runs", [r["samples_per_s"]])
            rounds = ", ".join(f(x) for x in runs)
            # Within a round the host counts ran one after the other: their ratio is the side-by-side one.
            own = sorted(x / y for x, y in zip(runs, single))
            w(f"| {r['hosts']} | {f(r['samples_per_s'])} | {rounds} | {r['samples_per_s'] / cluster[0]['samples_per_s']:.2f}x "
              f"| {own[(len(own) - 1) // 2]:.2f}x |")
        if batch == 32:
            w(f"\nThe one-host runs ranged from {f(min(single))} to {f(max(single))} samples/s ({max(single) / min(single) - 1:.0%} apart), "
              "so the two speed-ups can differ: the second divides runs of one round, made within a minute of each other, "
              "instead of medians gathered over the whole bench.")

    remote = by("remote")
    big = [r for r in remote if r["layers"] == "256,256,256" and r["samples"] == 32]
    if big:
        w("\n## 5. Large models: a batch of 32 at 256,256,256 over HTTP (client: libcurl, keep-alive, answer decoded)\n")
        w("| answer | format | response bytes | seconds per batch |")
        w("|---|---|---:|---:|")
        for r in big:
            w(f"| {'one gradient per sample' if r['reduce'] == 'none' else 'summed (reduce: sum)'} | {r['format']} | {f(r['response_bytes'])} | {r['seconds_per_request']:.4f} |")
    w("\n## 6. Scaling: seconds per sample against samples per request and model size (per-sample gradients, numbers)\n")
    w("| layers | 1 | 8 | 64 | 512 |")
    w("|---|---:|---:|---:|---:|")
    for layers in ["3,3,3", "64,64,64", "256,256,256"]:
        cells = {r["samples"]: r for r in remote if r["layers"] == layers and r["reduce"] == "none" and r["format"] == "numbers"}
        w(f"| {layers} | " + " | ".join(f"{cells[n]['seconds_per_sample'] * 1e6:,.1f} µs" if n in cells else "-" for n in [1, 8, 64, 512]) + " |")
    w("\nThe command: `make bench` (bench/run.sh, bench/peers.py, bench/hold.py, bench/report.py, Sources/gradbench).")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
