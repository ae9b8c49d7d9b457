#!/usr/bin/env python3
"""Draw xmodal's demo sample from the corpus: pictures of everyday nouns.

  /usr/bin/python3 tools/corpus/make_demo.py --corpus /work/cache/corpus --out demo/sample

The nouns are WordNet's everyday nouns (tools/corpus/coverage.py: animals,
plants, food, artifacts, natural objects, body parts) plus every word of
testdata/queries/everyday.tsv's second column. For each noun, in sorted order,
up to --per-noun images whose canonical caption (or file name) has the noun as
a whole word are taken, each from a different source, picture-like sources
first (colour emoji, colour illustrations, clip art; line icons only when
nothing else shows the noun), unseen concepts (the test and val splits) before
seen ones (train). Choices are seeded, so the same corpus gives the same sample.

Pictures of one flat colour are then left out: openclipart's "SVG Gradient
Collection" defines gradients and draws nothing, so it renders as plain white,
yet its file names ("gradient-violet", "gradient-beer-lager") name nouns.

Copies the chosen PNGs unchanged (the demo pixels are the corpus pixels) to
OUT/images/, and writes OUT/captions.csv (image,caption; the image's first two
captions) and OUT/LICENSES.md (every source, its licence and attribution).
"""
import argparse
import csv
import json
import os
import random
import re
import shutil
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coverage  # noqa: E402
from PIL import Image  # noqa: E402


def flat(path):
    """Whether an image is one colour: nothing to see, nothing to find."""
    with Image.open(path) as im:
        return all(lo == hi for lo, hi in im.convert("RGB").getextrema())

HERE = os.path.dirname(os.path.abspath(__file__))
ATTRIBUTION = {
    "emoji-datasource-google": ("Noto Emoji (Google), via npm emoji-datasource-google@16.0.0",
                                "Apache-2.0", "Noto Emoji images Copyright Google Inc., licensed under the "
                                "Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0)."),
    "emoji-datasource-twitter": ("Twemoji (Twitter), via npm emoji-datasource-twitter@16.0.0", "CC-BY-4.0",
                                 "Twemoji graphics Copyright 2019 Twitter, Inc and other contributors "
                                 "(https://github.com/jdecked/twemoji), licensed under CC-BY 4.0 "
                                 "(https://creativecommons.org/licenses/by/4.0/). Changes: rasterised "
                                 "PNG composited onto a white background."),
    "openmoji": ("OpenMoji, via npm openmoji@17.0.0", "CC-BY-SA-4.0",
                 "All emojis designed by OpenMoji (https://openmoji.org/) - the open-source emoji and icon "
                 "project. License: CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/). Changes: "
                 "SVG rasterised to PNG and composited onto a white background; these derived images are "
                 "likewise licensed under CC BY-SA 4.0."),
    "@tabler/icons": ("Tabler Icons, via npm @tabler/icons@3.52.0", "MIT",
                      "Copyright (c) 2020-2026 Paweł Kuna. MIT License (https://opensource.org/licenses/MIT)."),
    "lucide-static": ("Lucide, via npm lucide-static@1.62.0", "ISC",
                      "Copyright (c) 2026 Lucide Icons and Contributors; portions derived from Feather, "
                      "Copyright (c) 2013-2022 Cole Bemis (MIT). ISC License (https://opensource.org/licenses/ISC)."),
    "openclipart": ("Open Clip Art Library, via Debian openclipart-png / openclipart-svg 1:0.18+dfsg-19",
                    "Public-Domain", "Public domain dedication by each image's author (Open Clip Art Library). "
                    "No attribution is required; authors are listed per image below as a courtesy."),
}
# Picture-like sources rank before line icons.
PICTURE = ("emoji-datasource-google", "emoji-datasource-twitter", "openmoji", "openclipart")
# Emoji sets drawn in one colour look like line icons.
MONO_EMOJI = ("fluent-emoji-high-contrast", "emojione-monotone")


def rank_of(source, iconify_kinds):
    if source in PICTURE:
        return 0
    if source.startswith("@iconify/json:"):
        prefix = source.split(":", 1)[1]
        return 0 if iconify_kinds.get(prefix) in ("emoji", "color") and prefix not in MONO_EMOJI else 1
    return 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/work/cache/corpus")
    ap.add_argument("--out", required=True)
    ap.add_argument("--npm", default=None, help="node_modules of the corpus build (iconify set metadata); "
                    "default: CORPUS/../npm/node_modules")
    ap.add_argument("--queries", default=os.path.join(HERE, "../../testdata/queries/everyday.tsv"))
    ap.add_argument("--per-noun", type=int, default=2)
    ap.add_argument("--max", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    npm = a.npm or os.path.join(os.path.dirname(a.corpus.rstrip("/")), "npm", "node_modules")
    import iconify
    kinds = {k: v[0] for k, v in iconify.SETS.items()}
    collections = iconify.collections(npm)

    ds = json.load(open(os.path.join(a.corpus, "dataset_xmodal.json"), encoding="utf-8"))
    nouns = set(coverage.everyday_nouns("/usr/share/wordnet", 1))
    for line in open(a.queries, encoding="utf-8"):
        if line.strip() and not line.startswith("#"):
            nouns.update(w for w in line.rstrip("\n").split("\t")[1].split("|") if " " not in w)
    # index: word -> images whose canonical caption or file name has it
    by_word = {}
    for im in ds["images"]:
        text = im["sentences"][0]["raw"] + " " + re.sub(r"[_.-]", " ", im["filename"])
        for w in set(re.findall(r"[a-z]+", text.lower())):
            by_word.setdefault(w, []).append(im)
    rng = random.Random(a.seed)
    chosen, seen_files = [], set()
    for noun in sorted(nouns):
        cands = []
        for form in (noun, noun + "s", noun + "es", noun[:-1] + "ies"):
            cands += by_word.get(form, [])
        cands = [im for im in cands if im["filename"] not in seen_files]
        if not cands:
            continue
        rng.shuffle(cands)
        cands.sort(key=lambda im: (rank_of(im["source"], kinds), im["split"] == "train"))
        took_src = set()
        for im in cands:
            if len(took_src) >= a.per_noun:
                break
            if im["source"] in took_src or (took_src and rank_of(im["source"], kinds) > 0):
                continue
            took_src.add(im["source"])
            seen_files.add(im["filename"])
            chosen.append(im)
    if len(chosen) > a.max:
        rng.shuffle(chosen)
        chosen = chosen[:a.max]
    # After the draw, so that the rest of the sample is what it was.
    chosen = [im for im in chosen if not flat(os.path.join(a.corpus, im["filepath"], im["filename"]))]
    chosen.sort(key=lambda im: im["filename"])

    img_dir = os.path.join(a.out, "images")
    if os.path.isdir(img_dir):
        shutil.rmtree(img_dir)
    os.makedirs(img_dir)
    rows = []
    for im in chosen:
        shutil.copyfile(os.path.join(a.corpus, im["filepath"], im["filename"]),
                        os.path.join(img_dir, im["filename"]))
        for s in im["sentences"][:2]:
            rows.append(("images/" + im["filename"], s["raw"]))
    with open(os.path.join(a.out, "captions.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["image", "caption"])
        w.writerows(rows)

    cnt = Counter(im["source"] for im in chosen)
    splits = Counter("seen in training" if im["split"] == "train" else "unseen (test/val)" for im in chosen)
    lines = ["# Demo sample: licences and attributions", "",
             f"{len(chosen)} pictures of everyday things (animals, food, vehicles, household objects, nature, "
             f"people and activities) drawn from xmodal's training corpus, with {len(rows)} captions in "
             "`captions.csv`. The sample mixes concepts the default model saw in training "
             f"({splits['seen in training']} images) with concepts it never saw "
             f"({splits['unseen (test/val)']} images, from the held-out test and validation splits). "
             "Images were rasterised, composited onto white and padded to a square by "
             "tools/corpus/build_corpus.py and copied here unchanged. Regenerate with "
             "`/usr/bin/python3 tools/corpus/make_demo.py --corpus /work/cache/corpus --out demo/sample` "
             "after `bash tools/corpus/build.sh /work/cache/corpus`.", "",
             "| source | images here | file names | licence |", "| --- | --- | --- | --- |"]
    pat = {"emoji-datasource-google": "`emoji_*_google.png`", "emoji-datasource-twitter": "`emoji_*_twitter.png`",
           "openmoji": "`emoji_*_openmoji.png`", "@tabler/icons": "`icon_*_tabler*.png`",
           "lucide-static": "`icon_*_lucide.png`", "openclipart": "`clipart_*.png`"}
    attributions = []
    for src in sorted(cnt, key=lambda s: (not s in ATTRIBUTION, s)):
        if src in ATTRIBUTION:
            name, lic, text = ATTRIBUTION[src]
            lines.append(f"| {name} | {cnt[src]} | {pat[src]} | {lic} |")
            attributions.append(f"- **{name}** ({lic}): {text}")
        else:
            prefix = src.split(":", 1)[1]
            c = collections[prefix]
            author = c.get("author", {})
            lic = c.get("license", {})
            name = f"{c.get('name', prefix)} by {author.get('name', 'unknown')}, via npm @iconify/json (set `{prefix}`)"
            lines.append(f"| {name} | {cnt[src]} | `iconify_{prefix}_*.png` | {lic.get('spdx', '?')} |")
            attributions.append(
                f"- **{c.get('name', prefix)}** ({lic.get('spdx', '?')}): by {author.get('name', 'unknown')} "
                f"({author.get('url', 'no address given')}); licence: {lic.get('title', lic.get('spdx', '?'))}"
                + (f" ({lic['url']})" if lic.get("url") else "")
                + ". Changes: the icon's SVG rasterised to PNG and composited onto a white background.")
    lines += ["", "## Attributions", ""] + attributions
    lines += ["", "Captions: emoji names are CLDR annotations from emojibase-data@17.0.0 (MIT, Copyright (c) "
              "2017-2019 Miles Johnson) and emoji names from emoji-datasource (MIT, Copyright (c) 2013 Cal "
              "Henderson); icon captions are built from the icon names, aliases, tags and categories of the icon "
              "packages; clip-art captions from each image's own title, description and keywords.", ""]
    om = [im for im in chosen if im["source"] == "openmoji"]
    if om:
        lines += ["## OpenMoji designers of the images here", ""]
        lines += [f"- `{im['filename']}`: {im.get('author', 'OpenMoji contributors')}" for im in om]
        lines.append("")
    oc = [im for im in chosen if im["source"] == "openclipart"]
    if oc:
        lines += ["## Open Clip Art authors (public domain; courtesy listing)", ""]
        lines += [f"- `{im['filename']}`: {im.get('author', 'unknown')}" for im in oc]
        lines.append("")
    with open(os.path.join(a.out, "LICENSES.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    total = sum(os.path.getsize(os.path.join(img_dir, f)) for f in os.listdir(img_dir))
    covered = coverage.words_of([r[1] for r in rows] + [im["filename"].replace("_", " ") for im in chosen])
    n_cov = sum(coverage.covered(n, covered) for n in nouns)
    print(json.dumps({"images": len(chosen), "captions": len(rows), "bytes": total, "nouns": len(nouns),
                      "nouns_shown": n_cov, "by_split": splits, "by_source": cnt}, indent=1))


if __name__ == "__main__":
    main()
