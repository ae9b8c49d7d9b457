#!/usr/bin/env python3
"""Sort a model's text->image rank-1 misses by what came first instead.

Usage: misses.py RANKS.jsonl DATASET_XMODAL.json SPLIT

RANKS is what `xmodal eval --ranks` (tools/eval/candidate.sh) writes for the
split's workspace; the dataset file gives each image's concept group and
captions. A miss whose first image is another rendering of the same concept
either has the query among its own captions ("penguin" for two vendors'
penguins: no model can put the right one first) or is captioned differently
("dog icon" against the emoji "dog": a model could).
"""
import collections
import json
import sys


def key(caption):
    return caption.rstrip(".").strip().lower()


def main(ranks, dataset, split):
    info = {}
    for im in json.load(open(dataset, encoding="utf-8"))["images"]:
        if im["split"] == split:
            info[im["filepath"] + "/" + im["filename"]] = (im["group"], {key(s["raw"]) for s in im["sentences"]})
    count = collections.Counter()
    for line in open(ranks, encoding="utf-8"):
        r = json.loads(line)
        if r["direction"] != "text_to_image":
            continue
        count["queries"] += 1
        if r["rank"] == 1:
            count["hit at rank 1"] += 1
            continue
        group, _ = info[r["image"]]
        top_group, top_keys = info[r["top"][0]]
        if top_group != group:
            count["miss: another concept first"] += 1
        elif key(r["query"]) in top_keys:
            count["miss: same concept, same caption first"] += 1
        else:
            count["miss: same concept, captioned differently first"] += 1
    for k, v in count.items():
        print(f"{k:50s} {v:6d}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
