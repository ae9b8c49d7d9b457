"""Embeds a vector set in more dimensions by a random rotation, to measure
an index at a larger model's width with real embeddings.

    /usr/bin/python3 tools/bench/rotate.py --src /work/cache/ann1m --dst /work/cache/ann1m-512 --dim 256 --to 512

Every file SRC/*.f32 of DIM-wide rows (base.f32, image_queries.f32,
text_queries.f32) is multiplied by the same random matrix with orthonormal
columns (TO × DIM, from the QR factorisation of a Gaussian matrix, seed 1).
Inner products, and so every neighbour and every recall, are exactly those
of the source vectors up to float32 rounding; what changes is the cost: a
TO-wide vector to store, quantise, walk and re-rank. The vectors span only
a DIM-dimensional subspace, which no index here exploits (none reduces
dimensions), so the figures are those of TO-wide real embeddings with the
source's neighbourhood structure, not of a TO-wide model's.
"""
import argparse
import json
import os

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--dim", type=int, required=True)
    ap.add_argument("--to", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.dst, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    q, _ = np.linalg.qr(rng.standard_normal((a.to, a.dim)))
    rot = np.ascontiguousarray(q.T.astype(np.float32))  # dim × to: rows times it
    for name in ("base.f32", "image_queries.f32", "text_queries.f32"):
        src = np.memmap(os.path.join(a.src, name), dtype="<f4", mode="r").reshape(-1, a.dim)
        out = np.memmap(os.path.join(a.dst, name), dtype="<f4", mode="w+", shape=(len(src), a.to))
        for lo in range(0, len(src), 1 << 16):
            out[lo:lo + (1 << 16)] = src[lo:lo + (1 << 16)] @ rot
        out.flush()
        print(name, len(src), "rows")
    info = {"rotated_from": os.path.abspath(a.src), "dim": a.to, "source_dim": a.dim, "seed": a.seed}
    src_info = os.path.join(a.src, "vectors.json")
    if os.path.exists(src_info):
        with open(src_info) as f:
            info["source"] = json.load(f)
    with open(os.path.join(a.dst, "vectors.json"), "w") as f:
        json.dump(info, f, indent=2)


if __name__ == "__main__":
    main()
