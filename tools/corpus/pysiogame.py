"""pysiogame's Art4Apps drawings as a training-only supplement to the corpus.

pysiogame (Debian `pysiogame` 4.20.01-1, an educational game) ships about 500
shaded cartoon drawings of everyday nouns from Art4Apps (art4apps.org, by
Smart4Kids, CC BY-SA 3.0: the package's CREDITS.txt, and GCompris's
debian/copyright for the same collection), one file per word, filed by topic:
animals, food, fruit and vegetables, clothes, body, buildings, jobs, nature,
people, sport, transport. Like GCompris's pictures they are drawn, not flat
icons, so they widen the image domain; they go to training only and the
evaluation splits stay as they are. GCompris carries 116 of the same
drawings: with both supplements some pictures appear twice.

The "actions" folder is left out: its names are verbs in mixed tenses ("ate",
"bark") rather than things in the picture. pysiogame's other pictures are
numbered, not named. Nothing in the package comes from Tux Paint.
"""
import os

ART4APPS = "usr/share/games/pysiogame/res/images/art4apps"
LICENCE = "CC-BY-SA-3.0 (Art4Apps, Smart4Kids)"
# topic folder -> the words used in the "topic: name" caption
TOPICS = {
    "animals": "animal",
    "body": "body",
    "clothes_n_accessories": "clothes and accessories",
    "construction": "building",
    "food": "food",
    "fruit_n_veg": "fruit and vegetables",
    "jobs": "job",
    "nature": "nature",
    "people": "people",
    "sport": "sport",
    "transport": "transport",
}


def pysiogame_items(root, concept_key):
    """The supplement's items in build_corpus's item format, from the root of
    the unpacked package (dpkg-deb -x)."""
    base = os.path.join(root, ART4APPS)
    if not os.path.isdir(base):
        raise FileNotFoundError(f"{base}: no Art4Apps folder (is {root} the unpacked pysiogame package?)")
    items = []
    for topic, words in sorted(TOPICS.items()):
        d = os.path.join(base, topic)
        for fn in sorted(os.listdir(d)):
            stem, ext = os.path.splitext(fn)
            if ext.lower() not in (".jpg", ".png"):
                continue
            name = " ".join(stem.replace("_", " ").split()).lower()
            items.append(dict(kind="png", src=os.path.join(d, fn), subdir="pysiogame",
                              filename=f"pysiogame_{topic}__{stem}.png", group=concept_key(name),
                              source="pysiogame", license=LICENCE, author="Art4Apps (Smart4Kids)",
                              captions=[name, f"{name} illustration", f"{words}: {name}"], size=None))
    return items
