#!/usr/bin/env python3
"""One split of a corpus with every caption phrased as people type it: an
indefinite article in front ("old key" -> "an old key"; captions that
already start with an article are kept); with --sentence, also written as a
sentence ("An old key."), as descriptions such as Tux Paint's are. The images
are hard-linked (copied across file systems), so the result is indexed like
any corpus:

  /usr/bin/python3 tools/eval/with_articles.py --corpus CORPUS --split test --out DIR
  xmodal index --data DIR --split test --workspace WS && xmodal eval --workspace WS --split test

The article and sentence rules are train.py's with_article and as_sentence, so
training's augmentation and this evaluation agree on what they are.
"""
import argparse
import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
from train import as_sentence, with_article  # noqa: E402


def link(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.exists(dst):
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True, help="a corpus folder with dataset_xmodal.json")
    ap.add_argument("--split", default="test")
    ap.add_argument("--out", required=True)
    ap.add_argument("--sentence", action="store_true", help="also a capital and a full stop")
    a = ap.parse_args()

    with open(os.path.join(a.corpus, "dataset_xmodal.json")) as f:
        data = json.load(f)
    images = [im for im in data["images"] if im["split"] == a.split]
    if not images:
        sys.exit(f"{a.corpus}: no images in split {a.split!r}")
    for im in images:
        rel = os.path.join(im["filepath"], im["filename"])
        link(os.path.join(a.corpus, rel), os.path.join(a.out, rel))
        for s in im["sentences"]:
            s["raw"] = with_article(s["raw"])
            if a.sentence:
                s["raw"] = as_sentence(s["raw"])
            s["tokens"] = re.findall(r"\w+", s["raw"].lower())  # as build_corpus.py tokenises
    data["images"] = images
    with open(os.path.join(a.out, "dataset_xmodal.json"), "w") as f:
        json.dump(data, f)
    kind = "sentences" if a.sentence else "captions with articles"
    print(f"{len(images)} {a.split} images, {kind}, in {a.out}")


if __name__ == "__main__":
    main()
