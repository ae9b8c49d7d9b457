#!/usr/bin/env python3
"""A second out-of-corpus evaluation set, from game-icons.net, which
TRAINING_CORPUS.md reserves for evaluation: never train on it or put it in
the demo.

  npm install --prefix NPM @iconify-json/game-icons     (or @iconify/json: json/game-icons.json)
  /usr/bin/python3 tools/eval/gameicons.py --json NPM/node_modules/@iconify-json/game-icons/icons.json --out DIR
  xmodal index --data DIR --split test --workspace WS && xmodal eval --workspace WS --split test

Tux Paint's stamps (tuxpaint.py) are painted pictures captioned with
sentences; these are white-on-nothing silhouettes in one hand, named as
icons are ("crossed swords", "wolf head"), which is how the training
corpus's icon sets are named too, so the two sets pull apart what a model
knows of unseen drawings from how it reads a sentence. Names that carry a
number ("abstract-047") say nothing about the picture and are left out; of
the rest, --n are drawn with a fixed seed (1,000, the size of the issue's
held-out set), each one test image with its name as its one caption,
rendered black on white and padded to a square of --size px as the
corpus's icons are.
"""
import argparse
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus"))
from build_corpus import rasterise_svg, to_square_rgb  # noqa: E402
from iconify import svg_document  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", required=True, help="the set's iconify JSON (game-icons.json or icons.json)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=1000, help="how many icons to draw (0 = all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=128)
    a = ap.parse_args()
    try:
        data = json.load(open(a.json, encoding="utf-8"))
    except (OSError, ValueError) as e:
        sys.exit(f"{a.json}: {e}")
    if data.get("prefix") != "game-icons":
        sys.exit(f"{a.json}: prefix {data.get('prefix')!r}, want game-icons")
    width, height = data.get("width", 16), data.get("height", 16)
    names = sorted(n for n in data["icons"] if not re.search(r"\d", n))
    if 0 < a.n < len(names):
        names = sorted(random.Random(a.seed).sample(names, a.n))
    os.makedirs(os.path.join(a.out, "images"), exist_ok=True)
    images = []
    for name in names:
        svg = svg_document(data["icons"][name], width, height)
        try:
            im = to_square_rgb(rasterise_svg(svg.encode(), a.size))
        except Exception as e:  # noqa: BLE001
            print(f"skipped {name}: {e}", file=sys.stderr)
            continue
        im.save(os.path.join(a.out, "images", name + ".png"))
        caption = name.replace("-", " ")
        images.append({"filepath": "images", "filename": name + ".png", "imgid": len(images), "split": "test",
                       "sentences": [{"raw": caption, "tokens": caption.split(), "sentid": len(images)}],
                       "sentids": [len(images)]})
    json.dump({"dataset": "game-icons", "licence": data.get("info", {}).get("license", {}), "images": images},
              open(os.path.join(a.out, "dataset_gameicons.json"), "w"), indent=0)
    print(json.dumps({"images": len(images), "of": len(data["icons"])}))


if __name__ == "__main__":
    main()
