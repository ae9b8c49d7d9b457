"""Icon and emoji sets from the npm package @iconify/json (one JSON file per set).

Each set's licence is in its own metadata (info.license.spdx); only the sets in
SETS are used, chosen for everyday nouns (animals, food, vehicles, household
objects, nature, people and activities) and for licences that allow training
and redistribution. game-icons is reserved for evaluation and never read.

An icon's name is its caption material. Names carry style variants
("-fill", "-24-regular", "-outline-rounded"): the set's own `suffixes` list and a
few common style words are stripped to find the base name, and at most
PER_BASE variants of one base are kept, so that a set with six weights does
not count each concept six times. Emoji sets' names are CLDR names
("grinning-face-with-sweat"), matched to code points through emojibase so they
join the emoji's concept group and get its captions.
"""
import json
import os
import re

# set -> (kind, per_base). kind "emoji": colour emoji; "color": multicolour
# icons; "mono": single-colour icons (currentColor is drawn black).
SETS = {
    # colour emoji in styles the corpus has not got yet
    "fluent-emoji-flat": ("emoji", 1),
    "fluent-emoji": ("emoji", 1),
    "noto-v1": ("emoji", 1),
    "emojione": ("emoji", 1),
    "emojione-v1": ("emoji", 1),
    "fxemoji": ("emoji", 1),
    "streamline-emojis": ("emoji", 1),
    "fluent-emoji-high-contrast": ("emoji", 1),
    "emojione-monotone": ("emoji", 1),
    # multicolour icons and illustrations
    "flat-color-icons": ("color", 1),
    "fluent-color": ("color", 1),
    "icon-park": ("color", 1),
    "streamline-color": ("color", 1),
    "streamline-plump-color": ("color", 1),
    "streamline-flex-color": ("color", 1),
    "streamline-sharp-color": ("color", 1),
    "streamline-ultimate-color": ("color", 1),
    "streamline-freehand-color": ("color", 1),
    "streamline-kameleon-color": ("color", 1),
    "meteocons": ("color", 1),
    "marketeq": ("color", 1),
    # single-colour icon sets rich in nouns
    "mdi": ("mono", 1),
    "ph": ("mono", 2),
    "material-symbols": ("mono", 1),
    "fluent": ("mono", 2),
    "healthicons": ("mono", 2),
    "fa7-solid": ("mono", 1),
    "streamline": ("mono", 1),
    "icon-park-outline": ("mono", 1),
    "hugeicons": ("mono", 1),
    "solar": ("mono", 2),
    "mingcute": ("mono", 1),
    "ri": ("mono", 1),
    "carbon": ("mono", 1),
    "tdesign": ("mono", 1),
    "iconoir": ("mono", 1),
    "maki": ("mono", 1),
    "temaki": ("mono", 1),
    "pinhead": ("mono", 1),
    "streamline-ultimate": ("mono", 1),
    "streamline-flex": ("mono", 1),
    "lets-icons": ("mono", 1),
    "mynaui": ("mono", 1),
    "bi": ("mono", 1),
    "boxicons": ("mono", 1),
    "uil": ("mono", 1),
    "la": ("mono", 1),
    "clarity": ("mono", 1),
    "akar-icons": ("mono", 1),
    "medical-icon": ("mono", 1),
    "covid": ("mono", 1),
    "wi": ("mono", 1),
}
RESERVED = {"game-icons"}  # evaluation only (TRAINING_CORPUS.md)

# The training-only supplement (build_corpus.py --iconify-supplement): every
# other set of these categories with one of these licences, chosen by rule from
# the pinned package's collections.json rather than by hand. Left out: emoji
# (the same emoji as the datasource packages), logos and programming (brands,
# not everyday nouns), the sets the corpus already reads through their own npm
# packages, and the reserved game-icons.
SUPPLEMENT_CATEGORIES = {"UI 24px", "UI 16px / 32px", "UI Other / Mixed Grid", "UI Multicolor",
                         "Material", "Archive / Unmaintained", "Flags / Maps", "Thematic", None}
SUPPLEMENT_LICENSES = {"MIT", "Apache-2.0", "ISC", "CC0-1.0", "CC-BY-3.0", "CC-BY-4.0",
                       "CC-BY-SA-3.0", "CC-BY-SA-4.0", "OFL-1.1", "BSD-3-Clause", "Unlicense"}
SUPPLEMENT_SKIP = {"tabler", "lucide", "fa6-brands", "fa-brands"}
# Sets that put the style first ("baseline-dog", "twotone-dog"): stripped too, or
# "baseline dog" would be a concept of its own and slip past the val/test check.
STYLE_PREFIXES = {"ic": ("baseline", "outline", "round", "sharp", "twotone")}
STYLE_WORDS = {"fill", "filled", "outline", "outlined", "line", "linear", "solid", "bold",
               "duotone", "twotone", "regular", "light", "thin", "rounded", "sharp", "broken",
               "flat", "color", "colored", "alt", "o", "24px", "negative", "sm", "lg"}
SKIN = re.compile(r"-(light|medium-light|medium|medium-dark|dark)(-skin-tone)?$")
SKIN_MID = re.compile(r"-(light|medium-light|medium|medium-dark|dark)-")


def collections(npm):
    """prefix -> the set's metadata (name, author, licence, category, palette)
    from the installed @iconify/json package's collections.json."""
    return json.load(open(os.path.join(npm, "@iconify/json/collections.json"), encoding="utf-8"))


def supplement_sets(npm):
    """set -> (kind, per_base) for the training-only supplement."""
    cols = collections(npm)
    out = {}
    for prefix, info in sorted(cols.items()):
        if (prefix in SETS or prefix in RESERVED or prefix in SUPPLEMENT_SKIP
                or info.get("category") not in SUPPLEMENT_CATEGORIES
                or info.get("license", {}).get("spdx") not in SUPPLEMENT_LICENSES):
            continue
        out[prefix] = ("color" if info.get("palette") else "mono", 1)
    return out


def base_name(name, suffixes, prefixes=()):
    """Strip a set's style prefixes and suffixes and size numbers:
    "dog-24-regular" -> "dog", "baseline-dog" -> "dog" given the prefix."""
    n = name
    for p in prefixes:
        if n.startswith(p + "-"):
            n = n[len(p) + 1:]
            break
    for s in sorted((s for s in suffixes if s), key=len, reverse=True):
        if n.endswith("-" + s):
            n = n[: -len(s) - 1]
            break
    parts = n.split("-")
    while len(parts) > 1 and (parts[-1] in STYLE_WORDS or parts[-1].isdigit()):
        parts.pop()
    return "-".join(parts)


def svg_document(icon, width, height):
    left, top = icon.get("left", 0), icon.get("top", 0)
    w, h = icon.get("width", width), icon.get("height", height)
    body = icon["body"].replace("currentColor", "#000")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'viewBox="{left} {top} {w} {h}" width="{w}" height="{h}">{body}</svg>')


def label_key(s):
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


def iconify_items(npm, emoji_by_label, emoji_captions, icon_captions, concept_key, sets=None):
    """Corpus items from @iconify/json's sets (SETS unless given). emoji_by_label
    maps label_key(CLDR label or short name) to an emoji's code point key."""
    sets = SETS if sets is None else sets
    root = os.path.join(npm, "@iconify/json/json")
    items = []
    for prefix in sorted(sets):
        if prefix in RESERVED:
            continue
        kind, per_base = sets[prefix]
        d = json.load(open(os.path.join(root, prefix + ".json"), encoding="utf-8"))
        lic = d["info"]["license"]["spdx"]
        author = d["info"].get("author", {}).get("name")
        width, height = d.get("width", 16), d.get("height", 16)
        suffixes = list((d.get("suffixes") or {}).keys())
        cat_of = {}
        for cat, names in sorted((d.get("categories") or {}).items()):
            for n in names:
                cat_of.setdefault(n, cat)
        aliases = {}
        for a, v in sorted((d.get("aliases") or {}).items()):
            if set(v) == {"parent"}:  # plain renames only, no flips or rotations
                aliases.setdefault(v["parent"], []).append(a)
        by_base = {}
        for name in sorted(d["icons"]):
            icon = d["icons"][name]
            if icon.get("hidden"):
                continue
            if kind == "emoji" and (SKIN.search(name) or SKIN_MID.search(name + "-")):
                continue
            by_base.setdefault(base_name(name, suffixes, STYLE_PREFIXES.get(prefix, ())), []).append(name)
        for base, names in sorted(by_base.items()):
            # the plain name first, then the others in name order
            names.sort(key=lambda n: (n != base, len(n), n))
            for name in names[:per_base]:
                icon = d["icons"][name]
                words = base.replace("-", " ")
                alias_words = [a.replace("-", " ") for a in aliases.get(name, [])][:4]
                if kind == "emoji":
                    key = emoji_by_label.get(label_key(words))
                    if key is not None:
                        caps = emoji_captions(key)
                        group = concept_key(caps[0])
                    else:
                        caps = [words, f"{words} emoji"] + alias_words
                        group = concept_key(words)
                else:
                    caps = icon_captions(base, alias_words, cat_of.get(name, ""))
                    if kind == "color":
                        caps.insert(2, f"{words} illustration")
                    group = concept_key(words)
                fname = f"iconify_{prefix}_{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}.png"
                items.append(dict(kind="svgtext", src=svg_document(icon, width, height),
                                  subdir="iconify", filename=fname, group=group,
                                  source=f"@iconify/json:{prefix}", license=lic, author=author,
                                  captions=caps, size=None))
    return items
