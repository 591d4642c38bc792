"""Train a model held by gradserve, from Python.

The loop the service is built for: send a mini-batch's samples, get one gradient per sample,
average them here (NumPy), and post the mean to /apply with the version the gradients were
computed at. If another client moved the server on meanwhile, /apply answers 409 and the batch
is computed again at the new version.

    python train.py --server http://127.0.0.1:8080 --data data.csv --batch 32 --epochs 2

The CSV holds the inputs then the target on each line, and the samples are visited in file
order (as `gradctl train --no-shuffle` does). Only `requests` and `numpy` are needed.
"""

import argparse
import base64
import json

import numpy as np
import requests


def from_b64(tensor):
    """A tensor in the compact form: little-endian float32 values in base64."""
    return np.frombuffer(base64.b64decode(tensor["b64"]), dtype="<f4").reshape(tensor["shape"])


def to_b64(array):
    data = np.ascontiguousarray(array, dtype="<f4")
    return {"shape": list(data.shape), "dtype": "float32", "b64": base64.b64encode(data.tobytes()).decode()}


def read_samples(path):
    """Each line's numbers as written: the server reads the decimal text itself, so a value is
    rounded to float32 once, exactly as for gradctl."""
    samples = []
    with open(path) as lines:
        for line in lines:
            fields = [field.strip() for field in line.split(",")]
            if fields != [""]:
                samples.append('{"x": [%s], "t": %s}' % (", ".join(fields[:-1]), fields[-1]))
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="http://127.0.0.1:8080")
    parser.add_argument("--data", required=True, help="CSV: inputs, then the target")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()

    session = requests.Session()
    names = [parameter["name"] for parameter in session.get(args.server + "/model").json()["parameters"]]
    samples = read_samples(args.data)
    version = session.get(args.server + "/health").json()["version"]

    for epoch in range(1, args.epochs + 1):
        loss_sum = 0.0
        for start in range(0, len(samples), args.batch):
            body = '{"samples": [%s], "tensor_format": "b64"}' % ", ".join(samples[start:start + args.batch])
            while True:
                answer = session.post(args.server + "/gradients", data=body)
                answer.raise_for_status()
                answer = answer.json()
                # The mean in float64, adding the samples in order, then rounded to float32 once.
                total = {name: 0.0 for name in names}
                for result in answer["results"]:
                    for name in names:
                        total[name] = total[name] + from_b64(result["gradients"][name]).astype(np.float64)
                count = len(answer["results"])
                mean = {name: to_b64((total[name] / count).astype(np.float32)) for name in names}
                applied = session.post(args.server + "/apply", data=json.dumps({"gradients": mean, "version": answer["version"]}))
                if applied.status_code == 409:
                    continue  # another client moved the server on: compute this batch again
                applied.raise_for_status()
                version = applied.json()["version"]
                loss_sum += sum(result["loss"] for result in answer["results"])
                break
        print("epoch %d: mean loss %.6f, version %d" % (epoch, loss_sum / len(samples), version))


if __name__ == "__main__":
    main()
