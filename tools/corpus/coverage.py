#!/usr/bin/env python3
"""How many everyday nouns a corpus (or a demo sample) covers.

Everyday nouns come from WordNet 3.0 (Debian `wordnet`, /usr/share/wordnet):
single-word noun lemmas whose most frequent sense is an animal, a plant, a
food, an artifact, a natural object or a body part, tagged at least
--min-count times in that sense in WordNet's sense-tagged corpus (a frequency
filter that keeps "dog", "cup" and "bicycle" and drops "aardwolf").
A noun is covered if it (or its plural) is a whole word of at least one
caption. Prints per-category counts and, with --list, the nouns missing.

  python3 tools/corpus/coverage.py --json CORPUS/dataset_xmodal.json [--split train]
  python3 tools/corpus/coverage.py --csv demo/sample/captions.csv
"""
import argparse
import csv
import json
import re
from collections import defaultdict

LEXFILES = {"05": "animal", "06": "artifact", "08": "body", "13": "food", "17": "object",
            "20": "plant"}


def everyday_nouns(wn, min_count):
    """cntlist.rev lines are "lemma%1:LF:...  sense_number  tag_count"; sense 1 is
    the most frequent, and LF is its lexicographer file (05 animal, 13 food...)."""
    nouns = {}
    for line in open(f"{wn}/cntlist.rev", encoding="latin-1"):
        key, sense, cnt = line.split()
        lemma, rest = key.split("%", 1)
        pos, lf = rest.split(":")[:2]
        if pos != "1" or sense != "1" or int(cnt) < min_count:
            continue
        if not lemma.isalpha() or len(lemma) < 3 or lf not in LEXFILES:
            continue
        nouns[lemma] = LEXFILES[lf]
    return nouns


def words_of(captions):
    ws = set()
    for c in captions:
        ws.update(re.findall(r"[a-z]+", c.lower()))
    return ws


def covered(noun, words):
    return any(w in words for w in (noun, noun + "s", noun + "es", noun[:-1] + "ies"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", help="a dataset_xmodal.json (Karpathy layout)")
    ap.add_argument("--split", default="", help="only images of this split")
    ap.add_argument("--csv", help="a captions.csv (image,caption)")
    ap.add_argument("--wordnet", default="/usr/share/wordnet")
    ap.add_argument("--min-count", type=int, default=1)
    ap.add_argument("--list", action="store_true", help="print the nouns not covered")
    a = ap.parse_args()
    caps = []
    if a.json:
        for im in json.load(open(a.json, encoding="utf-8"))["images"]:
            if not a.split or im["split"] == a.split:
                caps += [s["raw"] for s in im["sentences"]]
                caps.append(im["filename"].replace("_", " ").replace("-", " "))
    if a.csv:
        for row in csv.reader(open(a.csv, encoding="utf-8")):
            caps += row
    nouns = everyday_nouns(a.wordnet, a.min_count)
    words = words_of(caps)
    by_cat = defaultdict(lambda: [0, 0])
    missing = defaultdict(list)
    for n, cat in sorted(nouns.items()):
        by_cat[cat][1] += 1
        if covered(n, words):
            by_cat[cat][0] += 1
        else:
            missing[cat].append(n)
    hit = sum(v[0] for v in by_cat.values())
    out = {"nouns": len(nouns), "covered": hit, "percent": round(100 * hit / max(len(nouns), 1), 1),
           "by_category": {c: {"covered": v[0], "of": v[1]} for c, v in sorted(by_cat.items())}}
    if a.list:
        out["missing"] = dict(missing)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
