"""Builds the handwritten-digits classification set from the copy scikit-learn ships
(sklearn.datasets.load_digits: 1,797 8x8 images of the digits 0 to 9, from UCI).

Each output line is one image for `gradserve --outputs 10 --loss softmax_cross_entropy`:
    {"x": [64 pixels, row by row, each 0..16 divided by 16], "t": the digit}
All 1,797 images, shuffled with seed 0: 1,500 to train.jsonl, 297 to valid.jsonl. (The copy in
../shared/data/digits holds 1,497 of them in a split its README does not give; the Makefile uses
that copy when it exists.)

Usage: python make_digits.py OUTPUT_DIR
"""
import json
import os
import random
import sys

from sklearn.datasets import load_digits


def main(output):
    digits = load_digits()
    rows = [{"x": [float(v) / 16 for v in image], "t": int(label)} for image, label in zip(digits.data, digits.target)]
    random.Random(0).shuffle(rows)
    os.makedirs(output, exist_ok=True)
    for name, part in [("train.jsonl", rows[:1500]), ("valid.jsonl", rows[1500:])]:
        with open(os.path.join(output, name), "w") as f:
            for row in part:
                f.write(json.dumps(row) + "\n")
    print(f"wrote {len(rows[:1500])} training and {len(rows[1500:])} validation images to {output}")


if __name__ == "__main__":
    main(sys.argv[1])
