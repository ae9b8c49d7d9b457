#!/usr/bin/env python3
"""Print the model card's source tables for a built corpus, from its data.

    /usr/bin/python3 tools/corpus/sources.py --json OUT/dataset_xmodal.json \
        --npm OUT/../npm/node_modules [--split train]

Two Markdown tables: images by source, split and licence; and the
@iconify/json sets with their names, authors and licences as the pinned
package's collections.json gives them. Counting from dataset_xmodal.json
rather than by hand keeps the card true to the corpus the model saw.
"""
import argparse
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iconify  # noqa: E402

ICONIFY_PKG = "@iconify/json"
ICONIFY = ICONIFY_PKG + ":"  # an iconify image's source is "@iconify/json:SET"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", required=True, help="the corpus's dataset_xmodal.json")
    ap.add_argument("--npm", required=True, help="node_modules holding @iconify/json")
    ap.add_argument("--split", help="count only this split in the sets table (default: all)")
    a = ap.parse_args()

    images = json.load(open(a.json, encoding="utf-8"))["images"]
    cols = iconify.collections(a.npm)

    by_split = collections.defaultdict(collections.Counter)
    licence = {}
    for im in images:
        src = ICONIFY_PKG if im["source"].startswith(ICONIFY) else im["source"]
        by_split[src][im["split"]] += 1
        licence.setdefault(src, set()).add(im["license"])
    print("| source | train | val | test | total | licence |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    tot = collections.Counter()
    for src, c in sorted(by_split.items(), key=lambda kv: -sum(kv[1].values())):
        tot.update(c)
        lic = "per set" if src == ICONIFY_PKG else ", ".join(sorted(licence[src]))
        print(f"| {src} | {c['train']:,} | {c['val']:,} | {c['test']:,} | {sum(c.values()):,} | {lic} |")
    print(f"| **all** | **{tot['train']:,}** | **{tot['val']:,}** | **{tot['test']:,}** "
          f"| **{sum(tot.values()):,}** | |")
    print()

    sets = collections.Counter(im["source"][len(ICONIFY):] for im in images
                               if im["source"].startswith(ICONIFY)
                               and (a.split is None or im["split"] == a.split))
    print(f"{len(sets)} @iconify/json sets" + (f" ({a.split} split)" if a.split else "") + ":")
    print()
    print("| set | name | author | images | licence |")
    print("| --- | --- | --- | ---: | --- |")
    for prefix, n in sorted(sets.items(), key=lambda kv: (-kv[1], kv[0])):
        info = cols.get(prefix, {})
        author = info.get("author", {}).get("name", "?")
        spdx = info.get("license", {}).get("spdx", "?")
        print(f"| `{prefix}` | {info.get('name', '?')} | {author} | {n:,} | {spdx} |")


if __name__ == "__main__":
    main()
