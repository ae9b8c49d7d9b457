#!/usr/bin/env python3
"""Draw xmodal's demo sample set from the corpus's held-out TEST split.

  /usr/bin/python3 tools/corpus/make_demo.py --corpus /work/cache/corpus --out demo/sample

Copies the chosen PNGs unchanged (so the demo pixels are the evaluated pixels)
to OUT/images/ and writes OUT/captions.csv (header image,caption; one row per
caption; RFC 4180 quoting via Python's csv module) and OUT/LICENSES.md.
Selection (deterministic, seed fixed): every test clip-art image and every test
emoji image (Google/Noto, Twemoji, OpenMoji), plus a seeded sample of the test
icons (Tabler outline, Tabler filled, Lucide) up to --max images in total.
"""
import argparse
import csv
import json
import os
import random
import shutil

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/work/cache/corpus")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max", type=int, default=800)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    ds = json.load(open(os.path.join(a.corpus, "dataset_xmodal.json"), encoding="utf-8"))
    test = [im for im in ds["images"] if im["split"] == "test"]
    keep = [im for im in test if im["source"] not in ("@tabler/icons", "lucide-static")]
    icons = [im for im in test if im["source"] in ("@tabler/icons", "lucide-static")]
    rng = random.Random(a.seed)
    rng.shuffle(icons)
    keep += icons[:max(0, a.max - len(keep))]
    keep.sort(key=lambda im: im["filename"])
    img_dir = os.path.join(a.out, "images")
    if os.path.isdir(img_dir):
        shutil.rmtree(img_dir)
    os.makedirs(img_dir)
    rows = []
    for im in keep:
        shutil.copyfile(os.path.join(a.corpus, im["filepath"], im["filename"]),
                        os.path.join(img_dir, im["filename"]))
        for s in im["sentences"]:
            rows.append(("images/" + im["filename"], s["raw"]))
    with open(os.path.join(a.out, "captions.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["image", "caption"])
        w.writerows(rows)
    from collections import Counter
    cnt = Counter(im["source"] for im in keep)
    lines = ["# Demo sample: licences and attributions", "",
             f"{len(keep)} images drawn from the held-out **test** split of xmodal's training corpus "
             "(concept groups never seen in training; see model/builtin/default/MODEL_CARD.md), "
             f"with {len(rows)} captions in `captions.csv`. Images were rasterised/composited onto white "
             "and padded to a square by tools/corpus/build_corpus.py and copied here unchanged. "
             "Regenerate with `/usr/bin/python3 tools/corpus/make_demo.py --corpus /work/cache/corpus "
             "--out demo/sample` after `bash tools/corpus/build.sh /work/cache/corpus`.", "",
             "| source | images here | file names | licence |", "| --- | --- | --- | --- |"]
    pat = {"emoji-datasource-google": "`emoji_*_google.png`", "emoji-datasource-twitter": "`emoji_*_twitter.png`",
           "openmoji": "`emoji_*_openmoji.png`", "@tabler/icons": "`icon_*_tabler.png`, `icon_*_tabler-filled.png`",
           "lucide-static": "`icon_*_lucide.png`", "openclipart": "`clipart_*.png`"}
    for src in ATTRIBUTION:
        lines.append(f"| {ATTRIBUTION[src][0]} | {cnt.get(src, 0)} | {pat[src]} | {ATTRIBUTION[src][1]} |")
    lines += ["", "## Attributions", ""]
    for src in ATTRIBUTION:
        lines += [f"- **{ATTRIBUTION[src][0]}** ({ATTRIBUTION[src][1]}): {ATTRIBUTION[src][2]}"]
    lines += ["", "Captions: emoji names are CLDR annotations from emojibase-data@17.0.0 (MIT, Copyright (c) "
              "2017-2019 Miles Johnson) and emoji names from emoji-datasource (MIT, Copyright (c) 2013 Cal "
              "Henderson); icon captions are built from the icon names and tags of the icon packages; clip-art "
              "captions from each image's own title, description and keywords.", ""]
    om = [im for im in keep if im["source"] == "openmoji"]
    if om:
        lines += ["## OpenMoji designers of the images here", ""]
        for im in om:
            lines.append(f"- `{im['filename']}`: {im.get('author', 'OpenMoji contributors')}")
        lines.append("")
    oc = [im for im in keep if im["source"] == "openclipart"]
    if oc:
        lines += ["## Open Clip Art authors (public domain; courtesy listing)", ""]
        for im in oc:
            lines.append(f"- `{im['filename']}`: {im.get('author', 'unknown')}")
        lines.append("")
    with open(os.path.join(a.out, "LICENSES.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    total = sum(os.path.getsize(os.path.join(img_dir, f)) for f in os.listdir(img_dir))
    print(json.dumps({"images": len(keep), "captions": len(rows), "by_source": cnt, "bytes": total}))


if __name__ == "__main__":
    main()
