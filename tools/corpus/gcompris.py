"""GCompris's pictures as a training-only supplement to the corpus.

GCompris (Debian `gcompris-qt-data`) keeps its activities' files inside Qt
resource bundles (.rcc). A few activities hold named pictures of everyday
things that the icon and emoji sources lack entirely: photographs (fish, tools,
household objects, farm and wild animals) and painted cartoons (the Art4Apps
words: animals, fruit, body parts, people). They are the only photographs and
paintings found in Debian or npm under the corpus rules, so they go to training
to widen the image domain; the evaluation splits stay as they are.

Only the folders below are used, each with the licence that the package's
debian/copyright gives it. Tux Paint, reserved for evaluation, contributes only
sounds to GCompris (credited in the mining and chronos activities), never
pictures, and no sounds are used here.
"""
import json
import os
import re
import struct
import zlib

# folder inside the bundles -> (caption category or "", licence per debian/copyright)
FOLDERS = {
    "lang/resource/words_sample": ("", "CC-BY-SA-3.0 (Art4Apps)"),
    "categorization/resource/images/fishes": ("fish", "public domain, CC-BY-2.0, CC-BY-SA-2.0/3.0 (Wikimedia Commons)"),
    "categorization/resource/images/tools": ("tool", "CC0-1.0 / public domain (publicdomainpictures.net, Wikimedia Commons)"),
    "categorization/resource/images/others": ("", "CC0-1.0 / public domain (publicdomainpictures.net, Wikimedia Commons)"),
    "categorization/resource/images/renewable": ("renewable energy", "CC0-1.0 / public domain (Wikimedia Commons)"),
    "categorization/resource/images/alphabets": ("", "GPL-3"),
    "explore_farm_animals/resource/animals": ("farm animal", "GPL-3+ (drawings), CC0 / public domain (photos)"),
    "explore_world_animals/resource/animals": ("wild animal", "CC0 / public domain, CC-BY-SA (Wikimedia Commons)"),
    "instruments/resource": ("musical instrument", "GPL-3+"),
}
SKIP = {"background", "question", "farm-animals", "alphabets", "world-map"}
RENAME = {"flute traversiere": "flute", "plier": "pliers", "tweezer": "tweezers",
          "blackslate": "black slate", "buffetset": "buffet set", "solar": "solar panel",
          "orange color": "orange colour"}


def read_rcc(path):
    """Yields (path, bytes) for every file in a Qt resource bundle (format
    versions 1-3; zlib-compressed entries are inflated)."""
    b = open(path, "rb").read()
    if b[:4] != b"qres":
        raise ValueError(f"{path}: not a Qt resource bundle")
    ver, tree, data, names = struct.unpack(">IIII", b[4:20])
    node = 22 if ver >= 2 else 14

    def name(off):
        n, = struct.unpack(">H", b[names + off:names + off + 2])
        return b[names + off + 6:names + off + 6 + 2 * n].decode("utf-16-be")

    def walk(i, prefix):
        p = tree + i * node
        noff, flags = struct.unpack(">IH", b[p:p + 6])
        nm = name(noff) if i else ""
        if flags & 2:  # directory
            count, first = struct.unpack(">II", b[p + 6:p + 14])
            for c in range(first, first + count):
                yield from walk(c, prefix + nm + "/")
            return
        doff, = struct.unpack(">I", b[p + 10:p + 14])
        q = data + doff
        size, = struct.unpack(">I", b[q:q + 4])
        raw = b[q + 4:q + 4 + size]
        if flags & 1:
            raw = zlib.decompress(raw[4:])  # qCompress: 4-byte length, then zlib
        elif flags & 4:
            raise ValueError(f"{path}: zstd-compressed entry {prefix + nm}")
        yield prefix + nm, raw

    yield from walk(0, "")


def extract(rcc_dir, out):
    """Unpacks the picture folders of every bundle in rcc_dir into out (once)."""
    done = os.path.join(out, ".done")
    if os.path.exists(done):
        return
    for fn in sorted(os.listdir(rcc_dir)):
        if not fn.endswith(".rcc"):
            continue
        for p, raw in read_rcc(os.path.join(rcc_dir, fn)):
            rel = p.lstrip("/").removeprefix("gcompris/src/activities/")
            if os.path.dirname(rel) not in FOLDERS and not rel.startswith("lang/resource/content-en"):
                continue
            if rel.endswith(".svgz"):
                rel, raw = rel[:-1], zlib.decompress(raw, 47)
            dst = os.path.join(out, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as f:
                f.write(raw)
    open(done, "w").close()


def words(stem, english):
    """A file's stem as English words: the lang activity's own word when it has
    one, else camelCase and underscores split and trailing digits dropped."""
    if stem + ".ogg" in english:
        w = english[stem + ".ogg"]
    else:
        w = re.sub(r"\d+$", "", stem)
        w = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", w).replace("_", " ").replace("-", " ").lower()
    w = " ".join(w.split())
    return RENAME.get(w, w)


def letter_captions(stem):
    m = re.fullmatch(r"(lower|upper)([A-Z])", stem)
    if not m:
        return None
    c = m.group(2).lower() if m.group(1) == "lower" else m.group(2)
    case = "lowercase" if m.group(1) == "lower" else "uppercase"
    # named "letter a", the concept of Tabler's letter-a and the other icon sets' letters
    return f"letter {c}", [f"{case} letter {c}", f"the letter {c}", c]


def gcompris_items(root, concept_key):
    """The supplement's items in build_corpus's item format, from a folder
    made by extract()."""
    english = {}
    en = os.path.join(root, "lang/resource/content-en.json")
    if os.path.exists(en):
        english = json.load(open(en, encoding="utf-8"))
    items = []
    for folder, (category, licence) in sorted(FOLDERS.items()):
        d = os.path.join(root, folder)
        if not os.path.isdir(d):
            continue
        for fn in sorted(os.listdir(d)):
            stem, ext = os.path.splitext(fn)
            if ext not in (".webp", ".svg", ".png") or stem in SKIP:
                continue
            lc = letter_captions(stem)
            if lc:
                name, caps = lc
            else:
                name = words(stem, english)
                caps = [name] + ([f"{category}: {name}"] if category and category != name else [])
            slug = re.sub(r"[^A-Za-z0-9]+", "_", folder.split("/")[0] + "__" + fn)
            items.append(dict(kind="svg" if ext == ".svg" else "png", src=os.path.join(d, fn),
                              subdir="gcompris", filename=f"gcompris_{slug}.png",
                              group=concept_key(name), source="gcompris-qt-data",
                              license=licence, author=None, captions=caps, size=None))
    return items
