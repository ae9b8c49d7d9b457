#!/usr/bin/env python3
"""How sure is a difference in recall? A paired bootstrap over two models' ranks.

    python3 tools/eval/paired.py A.ranks.jsonl B.ranks.jsonl [--direction text_to_image]

A and B are `xmodal eval --ranks` files of the same queries (candidate.sh
writes one per measurement). Prints each model's R@1/5/10 with a 95 %
interval, and B − A with a paired 95 % interval. Queries are resampled in
clusters, not one by one: an image with all its captions, joined with every
other image that shares a caption word for word (the same emoji drawn by
three vendors is one concept that succeeds or fails together); an
image->text query goes with its image's cluster. Resampling
single captions would make the intervals too narrow. An interval that
contains 0 means the test set cannot tell the two models apart at that
cut-off.
"""
import argparse
import json
import sys

import numpy as np


def load(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f]
    except (OSError, ValueError) as e:
        sys.exit(f"{path}: {e}")


def clusters(rows):
    """Image -> cluster number: images joined when a text->image query names both.

    Image->text rows carry no shared text, so both directions take their
    clusters from the file's text->image rows (an image in none is alone)."""
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r in rows:
        find(("i", r["image"]))
        if r["direction"] == "text_to_image":
            parent[find(("q", r["query"]))] = find(("i", r["image"]))
    ids = {}
    return {x[1]: ids.setdefault(find(x), len(ids)) for x in list(parent) if x[0] == "i"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--direction", default="text_to_image", choices=("text_to_image", "image_to_text"))
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = ap.parse_args()

    rows_a = load(args.a)
    of_image = clusters(rows_a)
    pick = lambda rows: [(r["query"], r["image"], r["rank"]) for r in rows if r["direction"] == args.direction]  # noqa: E731
    a, b = pick(rows_a), pick(load(args.b))
    if [r[:2] for r in a] != [r[:2] for r in b]:
        sys.exit(f"{args.a} and {args.b} do not rank the same queries in the same order")
    if not a:
        sys.exit(f"{args.a}: no {args.direction} queries")
    ids = {}
    cluster = np.array([ids.setdefault(of_image[r[1]], len(ids)) for r in a])
    n = len(ids)
    ra, rb = np.array([r[2] for r in a]), np.array([r[2] for r in b])
    # counts[s, i]: how often image i is drawn in sample s
    rng = np.random.default_rng(args.seed)
    draws = rng.integers(0, n, size=(args.samples, n))
    counts = np.zeros((args.samples, n))
    np.add.at(counts, (np.arange(args.samples)[:, None], draws), 1)
    weights = counts[:, cluster]  # each query weighted by its cluster's draws
    total = weights.sum(1)

    out = {"direction": args.direction, "queries": len(a), "clusters": n, "k": {}}
    for k in (1, 5, 10):
        ha, hb = (ra <= k).astype(float), (rb <= k).astype(float)
        sa, sb = weights @ ha / total, weights @ hb / total
        pct = lambda x: [round(100 * float(np.percentile(x, q)), 1) for q in (2.5, 97.5)]  # noqa: E731
        out["k"][k] = {"a": round(100 * ha.mean(), 1), "a_95": pct(sa), "b": round(100 * hb.mean(), 1),
                       "b_95": pct(sb), "diff": round(100 * (hb.mean() - ha.mean()), 1), "diff_95": pct(sb - sa)}
    if args.json:
        print(json.dumps(out))
        return
    print(f"{args.direction}: {len(a)} queries in {n} clusters (images joined by a shared caption), "
          f"{args.samples} resamples")
    for k, v in out["k"].items():
        lo, hi = v["diff_95"]
        print(f"R@{k:<2}  A {v['a']:5.1f} [{v['a_95'][0]:.1f}, {v['a_95'][1]:.1f}]   "
              f"B {v['b']:5.1f} [{v['b_95'][0]:.1f}, {v['b_95'][1]:.1f}]   "
              f"B-A {v['diff']:+5.1f} [{lo:+.1f}, {hi:+.1f}]{'' if lo <= 0 <= hi else '  *'}")


if __name__ == "__main__":
    main()
