"""WordNet synonyms for caption augmentation, and definitions for the
gloss loss (Debian's `wordnet` package, read straight from its database
files: no NLTK needed).

Only a noun's most frequent sense is used, whose other lemma names are its
synonyms ("car" -> "auto", "automobile", "motorcar"); rarer senses would
teach wrong meanings ("dog" -> "frump"). Proper names and Latin binomials
(capitalised lemmas) are left out.
"""
import os
import re

WORDNET = "/usr/share/wordnet"


def first_senses(root=WORDNET):
    """{lemma: data.noun offset of its most frequent sense}, lemmas as
    index.noun spells them ("domestic_dog")."""
    first = {}
    with open(os.path.join(root, "index.noun"), encoding="latin-1") as f:
        for line in f:
            if line.startswith(" "):
                continue  # the licence header
            p = line.split()
            n_ptrs = int(p[3])
            offsets = p[6 + n_ptrs:]
            if offsets:
                first[p[0]] = int(offsets[0])
    return first


def load(root=WORDNET):
    """Returns {noun or noun phrase: [synonyms]} for every noun whose most
    frequent sense has other common lemma names."""
    first = first_senses(root)
    out = {}
    with open(os.path.join(root, "data.noun"), "rb") as f:
        for lemma, off in first.items():
            f.seek(off)
            p = f.readline().decode("latin-1").split()
            n = int(p[3], 16)
            names = [p[4 + 2 * i] for i in range(n)]
            syn = []
            for name in names:
                name = re.sub(r"\(.*\)$", "", name)  # "tomato(a)" markers
                if name.lower() == lemma or name[:1].isupper():
                    continue
                syn.append(name.replace("_", " ").lower())
            if syn:
                out[lemma.replace("_", " ")] = syn
    return out


def glosses(root=WORDNET):
    """Returns [(lemmas, definition)] for every noun synset that is the most
    frequent sense of one of its lemmas: (["pickelhaube"], "a spiked helmet
    worn by German soldiers"). Lemmas are lower case, without proper names;
    the definition is the gloss before its quoted examples."""
    first = first_senses(root)
    out = []
    with open(os.path.join(root, "data.noun"), "rb") as f:
        for off in sorted(set(first.values())):
            f.seek(off)
            line = f.readline().decode("latin-1")
            head, _, gloss = line.partition(" | ")
            p = head.split()
            n = int(p[3], 16)
            lemmas = []
            for name in (p[4 + 2 * i] for i in range(n)):
                name = re.sub(r"\(.*\)$", "", name)
                # only lemmas whose own first sense this is: "dog" names an
                # andiron too, but that is not what "dog" means
                if not name[:1].isupper() and first.get(name.lower()) == off:
                    lemmas.append(name.replace("_", " ").lower())
            definition = re.split(r';\s*"', gloss.strip(), maxsplit=1)[0].strip().rstrip(";").strip()
            if lemmas and definition:
                out.append((lemmas, definition))
    return out


def replace(caption, table, rng):
    """The caption (a noun phrase), or its last two words, swapped for a
    synonym; unchanged if none. A last word alone is not swapped: its most
    frequent sense is often wrong there ("dog face" would become "dog human
    face")."""
    x = caption.strip()
    low = x.lower()
    words = low.split()
    if not words:
        return caption
    candidates = [(low, "")]
    if len(words) > 2:
        candidates.append((" ".join(words[-2:]), " ".join(words[:-2])))
    for head, rest in candidates:
        syn = table.get(head)
        if syn:
            pick = syn[rng.randrange(len(syn))]
            return (rest + " " + pick).strip()
    return caption


if __name__ == "__main__":
    import random
    t = load()
    print(len(t), "nouns with synonyms")
    r = random.Random(1)
    for c in ("car", "a red car", "dog face", "apple pie", "mobile phone", "pizza", "bicycle", "cat"):
        print(c, "->", replace(c, t, r), t.get(c.split()[-1]))
