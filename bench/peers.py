"""The peers gradserve is measured against, in the same run: NumPy computing the same
per-sample gradients (one sample at a time, and vectorised over a batch with einsum), JAX's
jit(vmap(grad(loss))) of the same network, and orjson encoding and decoding the same
/gradients document. Prints one JSON object per line."""
import argparse
import json
import time

import numpy as np


def measure(seconds, body):
    body()
    start = time.perf_counter()
    count = 0
    while True:
        body()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count, elapsed


def params(d, h1, h2, rng):
    f = np.float32
    return (rng.uniform(-0.5, 0.5, (h1, d)).astype(f), np.zeros(h1, f),
            rng.uniform(-0.5, 0.5, (h2, h1)).astype(f), np.zeros(h2, f), rng.uniform(-0.5, 0.5, h2).astype(f))


def per_sample(p, x, t):
    """Loss and every parameter's gradient for one sample, by the same formulas as gradserve."""
    W1, b1, W2, b2, W3 = p
    h1 = np.tanh(W1 @ x + b1)
    h2 = np.tanh(W2 @ h1 + b2)
    y = W3 @ h2
    dy = 2 * (y - t)
    dz2 = dy * W3 * (1 - h2 * h2)
    dz1 = (W2.T @ dz2) * (1 - h1 * h1)
    return (y - t) ** 2, np.outer(dz1, x), dz1, np.outer(dz2, h1), dz2, dy * h2


def vectorised(p, X, T):
    """Per-sample gradients of a whole batch at once (einsum for the outer products)."""
    W1, b1, W2, b2, W3 = p
    H1 = np.tanh(X @ W1.T + b1)
    H2 = np.tanh(H1 @ W2.T + b2)
    Y = H2 @ W3
    dY = 2 * (Y - T)
    dZ2 = dY[:, None] * W3 * (1 - H2 * H2)
    dZ1 = (dZ2 @ W2) * (1 - H1 * H1)
    return (Y - T) ** 2, np.einsum("bi,bj->bij", dZ1, X), dZ1, np.einsum("bi,bj->bij", dZ2, H1), dZ2, dY[:, None] * H2


def model(layers, batch, seconds):
    d, h1, h2 = layers
    rng = np.random.default_rng(1)
    p = params(d, h1, h2, rng)
    X = rng.uniform(0, 1, (batch, d)).astype(np.float32)
    T = np.linalg.norm(X, axis=1).astype(np.float32)
    count, elapsed = measure(seconds, lambda: [per_sample(p, X[i], T[i]) for i in range(batch)])
    loop = count * batch / elapsed
    count, elapsed = measure(seconds, lambda: vectorised(p, X, T))
    print(json.dumps({"bench": "numpy_model", "layers": ",".join(map(str, layers)), "batch": batch,
                      "loop_samples_per_s": loop, "vectorised_samples_per_s": count * batch / elapsed}))


def jax_model(layers, batch, seconds):
    """JAX's per-sample gradients: jit(vmap(grad(loss))) in float32 (run on one core with one
    XLA thread by bench/run.sh). The result is blocked on, so the time includes the work."""
    import jax
    import jax.numpy as jnp

    d, h1, h2 = layers
    rng = np.random.default_rng(1)
    p = tuple(jnp.asarray(a) for a in params(d, h1, h2, rng))
    X = jnp.asarray(rng.uniform(0, 1, (batch, d)).astype(np.float32))
    T = jnp.linalg.norm(X, axis=1)

    def loss(p, x, t):
        W1, b1, W2, b2, W3 = p
        h = jnp.tanh(W2 @ jnp.tanh(W1 @ x + b1) + b2)
        return (W3 @ h - t) ** 2

    per_sample_grads = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0, 0)))
    count, elapsed = measure(seconds, lambda: jax.block_until_ready(per_sample_grads(p, X, T)))
    print(json.dumps({"bench": "jax_model", "layers": ",".join(map(str, layers)), "batch": batch,
                      "samples_per_s": count * batch / elapsed, "jax": jax.__version__}))


def wire(path, seconds):
    import orjson
    document = open(path, "rb").read()
    decoded = orjson.loads(document)
    count, elapsed = measure(seconds, lambda: orjson.loads(document))
    decode = len(document) / 1e6 * count / elapsed
    count, elapsed = measure(seconds, lambda: orjson.dumps(decoded))
    print(json.dumps({"bench": "orjson", "bytes": len(document), "decode_mb_per_s": decode,
                      "encode_mb_per_s": len(document) / 1e6 * count / elapsed}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["model", "jax", "wire"])
    parser.add_argument("--layers", default="64,64,64")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--document")
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    if args.what == "model":
        model([int(v) for v in args.layers.split(",")], args.batch, args.seconds)
    elif args.what == "jax":
        jax_model([int(v) for v in args.layers.split(",")], args.batch, args.seconds)
    else:
        wire(args.document, args.seconds)
