#!/usr/bin/env python3
"""Build the xmodal image-caption corpus (Karpathy-style JSON + PNG images).

Inputs: the npm packages emoji-datasource-google, emoji-datasource-twitter,
openmoji, emojibase-data, @tabler/icons, lucide-static and @iconify/json
(installed under --npm) and Debian's openclipart-png / openclipart-svg (under
--openclipart). Output (--out): images/<subdir>/<file>.png (RGB, composited on
white, padded to a square; SVGs rasterised by librsvg at --size px, vendor
emoji PNGs kept at their native 64 px, openclipart PNGs fitted to --size) and
dataset_xmodal.json.

The split is by concept group (a normalised name shared across every source
and style: see concept_key), with a fixed seed over sorted group keys. Val/test
keep at most --eval-per-group renderings of a concept and 2 captions per image,
canonical first; train images keep every caption variant.
Needs Python 3 + Pillow (Debian python3-pil) and librsvg's GObject bindings
(gir1.2-rsvg-2.0, python3-gi-cairo).
"""
import argparse
import concurrent.futures as cf
import io
import json
import os
import random
import re
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gcompris  # noqa: E402
import iconify  # noqa: E402
import pysiogame  # noqa: E402

from PIL import Image

Image.MAX_IMAGE_PIXELS = None  # trusted Debian files; a few openclipart PNGs are huge

LICENSES = {
    "emoji-datasource-google": "Apache-2.0",
    "emoji-datasource-twitter": "CC-BY-4.0",
    "openmoji": "CC-BY-SA-4.0",
    "@tabler/icons": "MIT",
    "lucide-static": "ISC",
    "openclipart": "Public-Domain",
}
OC_JUNK_DIRS = ("shapes/stars", "computer/icons/flat-theme", "computer/icons/lemon-theme",
                "special/patterns")
OC_STOP_KEYWORDS = {"unsorted", "clip art", "clipart", "image", "media", "png", "svg",
                    "public domain", "externalsource", "remix", "openclipart", "clip_art",
                    "to_check", "how_to_check"}
NS = {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
      "dc": "http://purl.org/dc/elements/1.1/",
      "cc": "http://web.resource.org/cc/"}


def ws(s):
    return re.sub(r"\s+", " ", s or "").strip()


def norm_hex(h):
    return "-".join(p for p in h.upper().split("-") if p != "FE0F")


CONCEPT_DROP = {"icon", "emoji", "filled", "outline", "fill", "solid", "alt"}


def concept_key(name):
    """The concept group of a name across vendors and styles: lower case,
    punctuation to spaces, style words dropped ("Dog face" and "dog-face-fill"
    are one concept; the emoji "dog" and the icon "dog" are one concept)."""
    words = re.sub(r"[^a-z0-9]+", " ", ws(name).lower()).split()
    kept = [w for w in words if w not in CONCEPT_DROP] or words
    return "c:" + " ".join(kept)


def dedup(seq):
    out, seen = [], set()
    for s in seq:
        s = ws(s)
        if s and s.lower() not in seen:
            seen.add(s.lower())
            out.append(s)
    return out


# ---------------------------------------------------------------- images
def to_square_rgb(im, size=None, trim=False):
    """Composite onto white, optionally trim the white border to the content
    (plus a 4% margin), pad to a centred square, optionally fit to size."""
    im = im.convert("RGBA")
    bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
    im = Image.alpha_composite(bg, im).convert("RGB")
    if trim:
        inv = Image.eval(im.convert("L"), lambda v: 255 if v < 250 else 0)
        box = inv.getbbox()
        if box:
            m = int(0.04 * max(box[2] - box[0], box[3] - box[1]))
            box = (max(box[0] - m, 0), max(box[1] - m, 0),
                   min(box[2] + m, im.size[0]), min(box[3] + m, im.size[1]))
            im = im.crop(box)
    w, h = im.size
    s = max(w, h)
    if w != h:
        sq = Image.new("RGB", (s, s), (255, 255, 255))
        sq.paste(im, ((s - w) // 2, (s - h) // 2))
        im = sq
    if size and s > size:
        im = im.resize((size, size), Image.LANCZOS)
    return im


def rasterise_svg(data, size):
    """librsvg (the library behind rsvg-convert), in process: the document
    fitted into a size x size viewport, aspect ratio kept, centred, on
    transparency. Starting rsvg-convert per icon cost 40 ms against 1 ms."""
    import cairo
    import gi
    gi.require_version("Rsvg", "2.0")
    from gi.repository import Rsvg
    h = Rsvg.Handle.new_from_data(data)
    surf = cairo.ImageSurface(cairo.FORMAT_ARGB32, size, size)
    vp = Rsvg.Rectangle()
    vp.x, vp.y, vp.width, vp.height = 0, 0, size, size
    h.render_document(cairo.Context(surf), vp)
    surf.flush()
    return Image.frombuffer("RGBA", (size, size), bytes(surf.get_data()), "raw", "BGRa", 0, 1)


def render(job):
    kind, src, dst, size = job
    if os.path.exists(dst):
        return dst, None
    try:
        if kind in ("svg", "svgtext"):
            # svgtext: the document itself (iconify sets are JSON, not files)
            data = open(src, "rb").read() if kind == "svg" else src.encode()
            im = to_square_rgb(rasterise_svg(data, size))
        else:
            im = to_square_rgb(Image.open(src), size, trim=(kind == "png-trim"))
        tmp = dst + ".tmp"
        im.save(tmp, format="PNG", optimize=True)
        os.replace(tmp, dst)
        return dst, None
    except Exception as e:  # noqa: BLE001
        return dst, f"{src if kind != 'svgtext' else os.path.basename(dst)}: {e}"


# ---------------------------------------------------------------- sources
def emoji_items(npm):
    base = json.load(open(os.path.join(npm, "emojibase-data/en/data.json"), encoding="utf-8"))
    eb = {}
    for e in base:
        eb[norm_hex(e["hexcode"])] = e
    om = json.load(open(os.path.join(npm, "openmoji/data/openmoji.json"), encoding="utf-8"))
    omd = {norm_hex(o["hexcode"]): o for o in om}
    items = []
    labels = {}  # code point key -> canonical caption material, for the iconify emoji sets

    def captions(key, name=None, om_entry=None):
        e = eb.get(key)
        label = e["label"] if e else (om_entry["annotation"] if om_entry else name)
        tags = list(e.get("tags", [])) if e else []
        if om_entry:
            tags += [t.strip() for t in (om_entry.get("tags") or "").split(",")]
            tags += [t.strip() for t in (om_entry.get("openmoji_tags") or "").split(",")]
        tags = [t for t in dedup(tags) if t.lower() != label.lower()][:8]
        alt = name.lower() if name else (om_entry["annotation"] if om_entry else "")
        caps = [label]
        second = alt if alt and alt.lower() != label.lower() else (
            f"{label}: {', '.join(tags)}" if tags else f"{label} emoji")
        caps.append(second)
        caps += [alt, f"{label}: {', '.join(tags)}" if tags else "", f"{label} emoji"]
        return dedup(caps)

    for vendor in ("google", "twitter"):
        pkg = f"emoji-datasource-{vendor}"
        data = json.load(open(os.path.join(npm, pkg, "emoji.json"), encoding="utf-8"))
        for d in sorted(data, key=lambda d: d["unified"]):
            if d["category"] == "Component" or not d.get(f"has_img_{vendor}"):
                continue
            src = os.path.join(npm, pkg, "img", vendor, "64", d["image"])
            if not os.path.exists(src):
                continue
            key = norm_hex(d["unified"])
            caps = captions(key, name=d.get("name"), om_entry=omd.get(key))
            labels.setdefault(key, (d.get("name"), d.get("short_names", []), caps))
            items.append(dict(kind="png", src=src, subdir="emoji",
                              filename=f"emoji_{key.lower()}_{vendor}.png", group=concept_key(caps[0]),
                              source=pkg, license=LICENSES[pkg], author=None,
                              captions=caps, size=None))
    for o in sorted(om, key=lambda o: o["hexcode"]):
        if o["skintone"] or o["group"] == "component":
            continue
        src = os.path.join(npm, "openmoji/color/svg", o["hexcode"] + ".svg")
        if not os.path.exists(src):
            continue
        key = norm_hex(o["hexcode"])
        caps = captions(key, om_entry=o)
        labels.setdefault(key, (None, [], caps))
        items.append(dict(kind="svg", src=src, subdir="emoji",
                          filename=f"emoji_{key.lower()}_openmoji.png", group=concept_key(caps[0]),
                          source="openmoji", license=LICENSES["openmoji"],
                          author=o.get("openmoji_author") or None,
                          captions=caps, size=None))
    return items, labels


def icon_captions(name, tags, category, filled=False):
    words = name.replace("-", " ")
    canon = f"{words} icon" + (" (filled)" if filled else "")
    tags = [t for t in dedup(tags) if t.lower() != words.lower()][:8]
    tagcap = f"{words}: {', '.join(tags)}" if tags else ""
    catcap = f"{category.lower()} icon: {words}" if category else ""
    second = tagcap or catcap or words
    return dedup([canon, second, words, tagcap, catcap])


def icon_items(npm):
    items = []
    tab = json.load(open(os.path.join(npm, "@tabler/icons/icons.json"), encoding="utf-8"))
    for name in sorted(tab):
        v = tab[name]
        for style in ("outline", "filled"):
            if style not in v.get("styles", {}):
                continue
            src = os.path.join(npm, "@tabler/icons/icons", style, name + ".svg")
            if not os.path.exists(src):
                continue
            suffix = "tabler" if style == "outline" else "tabler-filled"
            items.append(dict(kind="svg", src=src, subdir="icons",
                              filename=f"icon_{name}_{suffix}.png", group=concept_key(name),
                              source="@tabler/icons", license="MIT", author=None,
                              captions=icon_captions(name, [str(t) for t in v.get("tags", [])],
                                                     v.get("category", ""), style == "filled"),
                              size=None))
    luc_tags = json.load(open(os.path.join(npm, "lucide-static/tags.json"), encoding="utf-8"))
    for fn in sorted(os.listdir(os.path.join(npm, "lucide-static/icons"))):
        if not fn.endswith(".svg"):
            continue
        name = fn[:-4]
        items.append(dict(kind="svg", src=os.path.join(npm, "lucide-static/icons", fn),
                          subdir="icons", filename=f"icon_{name}_lucide.png", group=concept_key(name),
                          source="lucide-static", license="ISC", author=None,
                          captions=icon_captions(name, luc_tags.get(name, []), ""), size=None))
    return items


def oc_meta(svg_path):
    try:
        root = ET.parse(svg_path).getroot()
    except Exception:  # noqa: BLE001
        return None
    work = root.find(".//cc:Work", NS)
    if work is None:
        return None
    title = ws(work.findtext("dc:title", default="", namespaces=NS))
    desc = ws(work.findtext("dc:description", default="", namespaces=NS))
    kws = [ws(li.text) for li in work.findall("dc:subject/rdf:Bag/rdf:li", NS)]
    creator = ws(work.findtext("dc:creator/cc:Agent/dc:title", default="", namespaces=NS))
    return title, desc, kws, creator


def clipart_items(root):
    items = []
    png_root = os.path.join(root, "png")
    paths = []
    for d, _, fs in os.walk(png_root):
        for f in fs:
            if f.endswith(".png"):
                paths.append(os.path.join(d, f))
    for p in sorted(paths):
        rel = os.path.relpath(p, png_root)
        if any(rel.startswith(j + "/") for j in OC_JUNK_DIRS):
            continue
        svg = os.path.join(root, "svg", rel[:-4] + ".svg")
        m = oc_meta(svg) if os.path.exists(svg) else None
        if not m or not m[0]:
            continue
        title, desc, kws, creator = m
        if title.lower().startswith("part of the") and "collection" in title.lower():
            continue
        kws = [k for k in dedup(kws) if k.lower() not in OC_STOP_KEYWORDS
               and k.lower() != title.lower()][:8]
        dwords = desc.split()
        if len(dwords) > 25:
            desc = " ".join(dwords[:25])
        t = title.rstrip(".")
        canon = f"{t}. {desc}" if desc and desc.lower() != title.lower() else title
        kwcap = f"clip art of {t}: {', '.join(kws)}" if kws else f"clip art of {t}"
        caps = dedup([canon, kwcap, title])
        fname = "clipart_" + re.sub(r"[^A-Za-z0-9._-]+", "_", rel[:-4].replace("/", "__")) + ".png"
        items.append(dict(kind="png-trim", src=p, subdir="clipart", filename=fname,
                          group=concept_key(title), source="openclipart",
                          license=LICENSES["openclipart"], author=creator or None,
                          captions=caps, size=None))
    return items


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--npm", required=True)
    ap.add_argument("--openclipart", default="/usr/share/openclipart")
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--test-images", type=int, default=1100)
    ap.add_argument("--val-images", type=int, default=500)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--eval-per-group", type=int, default=3,
                    help="at most this many renderings of one concept in val/test (the rest are dropped, "
                         "never moved to train)")
    ap.add_argument("--no-iconify", action="store_true", help="the first corpus's sources only")
    ap.add_argument("--gcompris", default="",
                    help="GCompris's resource bundles (rcc folder): a training-only supplement added after "
                         "the split, so val and test stay exactly as without it")
    ap.add_argument("--pysiogame", default="",
                    help="the unpacked pysiogame package (dpkg-deb -x): its Art4Apps drawings as a "
                         "training-only supplement, likewise")
    ap.add_argument("--iconify-supplement", action="store_true",
                    help="every other openly licensed non-emoji, non-logo @iconify/json set "
                         "(iconify.supplement_sets), added to train only after the split")
    a = ap.parse_args()

    emoji, labels = emoji_items(a.npm)
    by_label = {}
    for key, (name, short_names, caps) in sorted(labels.items()):
        for n in [caps[0]] + ([name] if name else []) + list(short_names):
            by_label.setdefault(iconify.label_key(n.replace("_", " ")), key)
    items = emoji + icon_items(a.npm) + clipart_items(a.openclipart)
    if not a.no_iconify:
        items += iconify.iconify_items(a.npm, by_label, lambda k: labels[k][2], icon_captions,
                                       concept_key)
    # de-duplicate output file names (keep first)
    seen = set()
    uniq = []
    for it in items:
        k = (it["subdir"], it["filename"])
        if k not in seen:
            seen.add(k)
            uniq.append(it)
    items = uniq

    # split by concept group
    groups = {}
    for it in items:
        groups.setdefault(it["group"], []).append(it)
    keys = sorted(groups)
    rng = random.Random(a.seed)
    rng.shuffle(keys)
    split_of = {}
    n_test = n_val = 0
    for k in keys:
        if n_test < a.test_images:
            split_of[k] = "test"
            n_test += min(len(groups[k]), a.eval_per_group)
        elif n_val < a.val_images:
            split_of[k] = "val"
            n_val += min(len(groups[k]), a.eval_per_group)
        else:
            split_of[k] = "train"

    # val/test: at most --eval-per-group renderings per concept, one per source first
    dropped = set()
    for k in keys:
        if split_of[k] == "train":
            continue
        g = sorted(groups[k], key=lambda it: (it["source"], it["filename"]))
        rng_g = random.Random(f"{a.seed}:{k}")
        rng_g.shuffle(g)
        seen_src, first, rest = set(), [], []
        for it in g:
            (rest if it["source"] in seen_src else first).append(it)
            seen_src.add(it["source"])
        for it in (first + rest)[a.eval_per_group:]:
            dropped.add(id(it))
    items = [it for it in items if id(it) not in dropped]

    # training-only supplements: pictures of a val or test concept are left out
    def concepts(it):
        # its group, and every caption read as a concept with or without a leading article
        # ("the letter v", "v"), so that no caption names a val/test concept either
        cs = {it["group"]}
        for c in it["captions"]:
            cs |= {concept_key(c), concept_key(re.sub(r"^(the|an?) ", "", c.lower()))}
        return cs

    def add_train_only(name, extra):
        kept = [it for it in extra if all(split_of.get(g, "train") == "train" for g in concepts(it))]
        print(f"{name}: {len(kept)} of {len(extra)} pictures kept (the rest name a val/test concept)",
              file=sys.stderr)
        for it in kept:
            split_of.setdefault(it["group"], "train")
        items.extend(kept)

    if a.gcompris:
        ext = os.path.join(a.out, "gcompris-src")
        gcompris.extract(a.gcompris, ext)
        add_train_only("gcompris", gcompris.gcompris_items(ext, concept_key))
    if a.iconify_supplement:
        sets = iconify.supplement_sets(a.npm)
        extra = iconify.iconify_items(a.npm, by_label, lambda k: labels[k][2], icon_captions,
                                      concept_key, sets)
        add_train_only(f"iconify supplement ({len(sets)} sets)", extra)
    if a.pysiogame:
        add_train_only("pysiogame", pysiogame.pysiogame_items(a.pysiogame, concept_key))

    # render
    jobs = []
    for it in items:
        d = os.path.join(a.out, "images", it["subdir"])
        os.makedirs(d, exist_ok=True)
        jobs.append((it["kind"], it["src"], os.path.join(d, it["filename"]), a.size))
    errors = {}
    with cf.ProcessPoolExecutor(a.jobs) as ex:
        for i, (dst, err) in enumerate(ex.map(render, jobs, chunksize=64)):
            if err:
                errors[dst] = err
            if i % 2000 == 0:
                print(f"rendered {i}/{len(jobs)}", file=sys.stderr, flush=True)
    for e in sorted(errors.values()):
        print("FAILED", e, file=sys.stderr)

    images = []
    sentid = 0
    for it in items:
        dst = os.path.join(a.out, "images", it["subdir"], it["filename"])
        if dst in errors:
            continue
        split = split_of[it["group"]]
        caps = it["captions"] if split == "train" else it["captions"][:2]
        sents = []
        for c in caps:
            sents.append({"raw": c, "tokens": re.findall(r"\w+", c.lower()), "sentid": sentid})
            sentid += 1
        rec = {"filepath": "images/" + it["subdir"], "filename": it["filename"],
               "imgid": len(images), "split": split, "group": it["group"],
               "source": it["source"], "license": it["license"]}
        if it["author"]:
            rec["author"] = it["author"]
        rec["sentences"] = sents
        rec["sentids"] = [s["sentid"] for s in sents]
        images.append(rec)
    out = {"dataset": "xmodal-corpus", "seed": a.seed, "images": images}
    with open(os.path.join(a.out, "dataset_xmodal.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=0)
    # stats
    from collections import Counter
    st = Counter((im["split"], im["source"]) for im in images)
    gs = Counter(split_of[k] for k in keys)
    print(json.dumps({"images": len(images), "groups": len(keys), "groups_by_split": gs,
                      "by_split_source": {f"{s}/{src}": n for (s, src), n in sorted(st.items())},
                      "captions": sentid, "failed": len(errors)}, indent=1))


if __name__ == "__main__":
    main()
