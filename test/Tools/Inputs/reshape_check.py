"""Checks of test/Tools/pce-reshape.mlir on two safetensors files.

  reshape_check.py unchanged OLD NEW PREFIX...   tensors outside the PREFIXes: bit for bit
  reshape_check.py rows OLD NEW NAME I,J,...     NEW's NAME is OLD's rows I, J, ... (dim 0)
  reshape_check.py halved OLD NEW NAME I J K     NEW's NAME[J] and [K] are OLD's [I] - log 2
  reshape_check.py close A.npy B.npy TOL         max |A - B| <= TOL
"""
import json
import struct
import sys

import numpy as np


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype=dtypes[t["dtype"]]).reshape(t["shape"])
    return out


def main(argv):
    what = argv[1]
    if what == "close":
        a, b, tol = np.load(argv[2]), np.load(argv[3]), float(argv[4])
        diff = float(np.max(np.abs(a - b)))
        assert a.shape == b.shape and diff <= tol, (a.shape, b.shape, diff)
        print("close: max difference %.3g" % diff)
        return
    old, new = read(argv[2]), read(argv[3])
    if what == "unchanged":
        prefixes = tuple(argv[4:])
        names = [n for n in old if not n.startswith(prefixes)]
        for n in names:
            assert n in new and old[n].tobytes() == new[n].tobytes(), n
        assert sorted(old) == sorted(new), (sorted(old), sorted(new))
        print("unchanged: %d tensors" % len(names))
    elif what == "rows":
        name, rows = argv[4], [int(i) for i in argv[5].split(",")]
        assert new[name].tobytes() == old[name][rows].tobytes(), name
        print("rows: %s = old %s" % (name, rows))
    elif what == "halved":
        name, i, j, k = argv[4], int(argv[5]), int(argv[6]), int(argv[7])
        want = float(old[name][i]) - np.log(2.0)
        assert abs(new[name][j] - want) < 1e-6 and abs(new[name][k] - want) < 1e-6, (new[name], want)
        print("halved: %s[%d] and [%d] = old [%d] - log 2" % (name, j, k, i))


if __name__ == "__main__":
    main(sys.argv)
