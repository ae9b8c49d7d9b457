#!/usr/bin/env python3
"""An out-of-corpus evaluation set from Tux Paint's stamps (Debian
tuxpaint-stamps-default), which TRAINING_CORPUS.md reserves for evaluation:
never train on it or put it in the demo.

  apt-get download tuxpaint-stamps-default && dpkg-deb -x tuxpaint-stamps-default_*.deb ROOT
  /usr/bin/python3 tools/eval/tuxpaint.py --stamps ROOT/usr/share/tuxpaint/stamps --out DIR
  xmodal index --data DIR --split test --workspace WS && xmodal eval --workspace WS --split test

Every stamp with an English description (the first line of its .txt, e.g.
"A dog.") and a picture (PNG, else SVG rendered by librsvg) becomes one test
image with that one caption: painted pictures and photos of animals, food,
vehicles, household things, people and places, drawn by other hands than the
training corpus's. Images are composited onto white and padded to a square
of --size px, as the corpus's are.
"""
import argparse
import json
import os
import re
import sys

from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus"))
from build_corpus import rasterise_svg, to_square_rgb  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stamps", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=128)
    a = ap.parse_args()
    os.makedirs(os.path.join(a.out, "images"), exist_ok=True)
    images = []
    for d, _, files in sorted(os.walk(a.stamps)):
        for f in sorted(files):
            if not f.endswith(".txt"):
                continue
            stem = f[:-4]
            desc = open(os.path.join(d, f), encoding="utf-8", errors="replace").readline().strip()
            if not desc or "=" in desc:
                continue
            png, svg = os.path.join(d, stem + ".png"), os.path.join(d, stem + ".svg")
            try:
                if os.path.exists(png):
                    im = to_square_rgb(Image.open(png), a.size, trim=True)
                elif os.path.exists(svg):
                    im = to_square_rgb(rasterise_svg(open(svg, "rb").read(), a.size))
                else:
                    continue
            except Exception as e:  # noqa: BLE001
                print(f"skipped {png}: {e}", file=sys.stderr)
                continue
            rel = os.path.relpath(os.path.join(d, stem), a.stamps)
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", rel.replace("/", "__")) + ".png"
            im.save(os.path.join(a.out, "images", name))
            images.append({"filepath": "images", "filename": name, "imgid": len(images), "split": "test",
                           "sentences": [{"raw": desc, "tokens": re.findall(r"\w+", desc.lower()),
                                          "sentid": len(images)}],
                           "sentids": [len(images)]})
    json.dump({"dataset": "tuxpaint-stamps", "images": images},
              open(os.path.join(a.out, "dataset_tuxpaint.json"), "w"), indent=0)
    print(json.dumps({"images": len(images)}))


if __name__ == "__main__":
    main()
