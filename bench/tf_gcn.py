"""The graph model of `make train-molecules` in TensorFlow, in process: the peer for time to accuracy.

The same network (Â = D^-1/2 (A + I) D^-1/2 propagation, two tanh layers of 64, sum readout, one
output w · r + c, Glorot-uniform weights and zero biases), the same loss (squared error, averaged
over the batch), optimizer (Adam 0.003, β 0.9 / 0.999, ε 1e-8), cosine decay to 1% over all
steps, batch 32, shuffled each epoch, and one validation pass per epoch. A batch is the disjoint
union of its graphs: node rows stacked, edges offset, a segment sum for the readout, all in one
compiled step (`tf.function`). Prints one JSON line: the seconds to reach each target MAE (null if
never), the total, and the best MAE.

With `--events DIR` it reads the same figures from the TensorBoard folder of a `gradctl train
--tensorboard DIR --eval ...` run instead (its `eval/mae` scalars and their wall times, from the
file's first event), so that both sides are timed the same way.
"""
import argparse
import json
import math
import time

import numpy as np
import tensorflow as tf


def load(path):
    graphs = []
    for line in open(path):
        g = json.loads(line)
        x = np.asarray(g["nodes"], dtype=np.float32).reshape(-1, 23)
        n = len(x)
        edges = np.asarray(g["edges"], dtype=np.int64).reshape(-1, 2)
        degree = np.ones(n, dtype=np.float32)  # the self-loop
        np.add.at(degree, edges[:, 0], 1)
        np.add.at(degree, edges[:, 1], 1)
        src = np.concatenate([edges[:, 0], edges[:, 1], np.arange(n)])
        dst = np.concatenate([edges[:, 1], edges[:, 0], np.arange(n)])
        weight = (1 / np.sqrt(degree[src] * degree[dst])).astype(np.float32)
        graphs.append((x, src, dst, weight, np.float32(g["t"])))
    return graphs


def union(graphs):
    """The disjoint union of `graphs`: one big graph, and which graph each node belongs to."""
    xs, srcs, dsts, weights, segments, targets = [], [], [], [], [], []
    offset = 0
    for k, (x, src, dst, weight, t) in enumerate(graphs):
        xs.append(x)
        srcs.append(src + offset)
        dsts.append(dst + offset)
        weights.append(weight)
        segments.append(np.full(len(x), k, dtype=np.int64))
        targets.append(t)
        offset += len(x)
    return (np.concatenate(xs), np.concatenate(srcs), np.concatenate(dsts), np.concatenate(weights),
            np.concatenate(segments), np.int64(len(graphs)), np.asarray(targets, dtype=np.float32))


def summary(bench, errors, targets, total, **extra):
    """`errors`: (seconds since the start, validation MAE) after each epoch."""
    reached = {f"{t:g}": next((round(s, 2) for s, e in errors if e <= t), None) for t in targets}
    return json.dumps({"bench": bench, **extra, "epochs": len(errors), "seconds": round(total, 2),
                       "seconds_to_mae": reached, "best_mae": min(e for _, e in errors), "final_mae": errors[-1][1]})


def read_events(folder, targets):
    import glob
    start, errors = None, []
    for path in sorted(glob.glob(f"{folder}/events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            start = event.wall_time if start is None else start
            for value in event.summary.value:
                if value.tag == "eval/mae":
                    errors.append((event.wall_time - start, float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value))
    return summary("graph_time", errors, targets, errors[-1][0])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", help="folder with train.jsonl and valid.jsonl")
    parser.add_argument("--events", help="a gradctl run's TensorBoard folder, to read instead of training")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow's intra- and inter-op threads (0: its default)")
    parser.add_argument("--target-mae", type=float, nargs="+", required=True)
    args = parser.parse_args()
    if args.events:
        print(read_events(args.events, args.target_mae))
        return
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    tf.random.set_seed(1)
    train, valid = load(f"{args.data}/train.jsonl"), load(f"{args.data}/valid.jsonl")
    steps = math.ceil(len(train) / args.batch) * args.epochs
    glorot, zeros = tf.keras.initializers.GlorotUniform(seed=1), tf.zeros_initializer()
    widths = [23, 64, 64]
    weights = [tf.Variable(glorot((widths[k], widths[k + 1]))) for k in range(2)]
    biases = [tf.Variable(zeros((widths[k + 1],))) for k in range(2)]
    w_out, c = tf.Variable(glorot((64, 1))), tf.Variable(zeros((1,)))
    variables = weights + biases + [w_out, c]
    schedule = tf.keras.optimizers.schedules.CosineDecay(0.003, decay_steps=steps, alpha=0.01)
    optimizer = tf.keras.optimizers.Adam(learning_rate=schedule, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    signature = [tf.TensorSpec([None, 23], tf.float32), tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.int64),
                 tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.int64), tf.TensorSpec([], tf.int64),
                 tf.TensorSpec([None], tf.float32)]

    def predict(x, src, dst, weight, segments, count):
        h = x
        for w, b in zip(weights, biases):
            m = tf.matmul(h, w)
            h = tf.tanh(tf.math.unsorted_segment_sum(tf.gather(m, src) * weight[:, None], dst, tf.shape(x)[0]) + b)
        readout = tf.math.unsorted_segment_sum(h, segments, count)
        return tf.squeeze(tf.matmul(readout, w_out), 1) + c

    @tf.function(input_signature=signature)
    def step(x, src, dst, weight, segments, count, t):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(predict(x, src, dst, weight, segments, count) - t))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    @tf.function(input_signature=signature)
    def mae(x, src, dst, weight, segments, count, t):
        return tf.reduce_mean(tf.abs(predict(x, src, dst, weight, segments, count) - t))

    valid_union = union(valid)
    rng = np.random.default_rng(1)
    started = time.perf_counter()
    errors = []
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(train))
        for start in range(0, len(order), args.batch):
            step(*union([train[i] for i in order[start:start + args.batch]]))
        errors.append((time.perf_counter() - started, float(mae(*valid_union))))
    print(summary("tf_graph", errors, args.target_mae, time.perf_counter() - started, tensorflow=tf.__version__, threads=args.threads))


if __name__ == "__main__":
    main()
