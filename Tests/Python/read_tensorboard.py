"""Reads a TensorBoard log folder with TensorBoard's own code and prints what it holds as JSON.

Every record of every event file goes through TensorBoard's record reader, which checks both
masked CRC-32C checksums and raises on a damaged record; the scalars come from the
EventAccumulator, the loader behind TensorBoard's scalar dashboard.

    python read_tensorboard.py DIR  ->  {"files": n, "records": n, "file_versions": [...],
                                         "scalars": {tag: [[step, bits], ...]}}

Values are printed as the bit patterns of their Float32s, so that no decimal conversion stands
between the file and the comparison.
"""
import glob
import json
import os
import struct
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow


def strict_records(path):
    reader = pywrap_tensorflow.PyRecordReader_New(path, 0)
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            return
        yield reader.record()


def main(directory):
    files = sorted(glob.glob(os.path.join(directory, "*tfevents*")))
    records, versions = 0, []
    for path in files:
        for record in strict_records(path):
            event = event_pb2.Event.FromString(record)
            records += 1
            if event.HasField("file_version"):
                versions.append(event.file_version)
    accumulator = EventAccumulator(directory, size_guidance={"scalars": 0})
    accumulator.Reload()
    def bits(value):
        return struct.unpack("<I", struct.pack("<f", value))[0]

    scalars = {tag: [[e.step, bits(e.value)] for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}
    json.dump({"files": len(files), "records": records, "file_versions": versions, "scalars": scalars}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
