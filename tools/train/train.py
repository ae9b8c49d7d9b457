#!/usr/bin/env python3
"""Train xmodal's small default CLIP model (HF CLIPModel layout) with InfoNCE.

Run with Debian's /usr/bin/python3 (torch 1.13) and OpenBLAS-OpenMP:
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp nice -n 10 \
    /usr/bin/python3 tools/train/train.py --corpus /work/cache/corpus --out /work/cache/train/RUN ...

Data: dataset_xmodal.json (Karpathy layout). Images are preprocessed once
exactly as at inference (Pillow bicubic resize of the shortest side to
--image-size, centre crop, CLIP mean/std) and cached as uint8. Train images
draw one of their caption variants at random each step. Concept-group-aware
InfoNCE: images/captions of the same concept group in a batch count as
positives (soft targets). Optional augmentation: random scale/translate
(no flips) with white fill. Every epoch: loss, val and test recall
(text->image: rank of each caption's image among all images of the split;
image->text: best rank of the image's captions). Checkpoints: last.pt every
epoch (and every --ckpt-minutes), best.pt by val recall sum (with
--select-sentences, plus that of val's captions written as sentences). Fine-tuning:
--init starts from given weights; --hard-weight adds VSE++'s max-violation
hinge on the hardest negative of another concept group. --loss sigmoid trains
with SigLIP's pairwise sigmoid loss instead of InfoNCE. --sibling-frac puts other
renderings of a batch's concepts into it, and --caption-targets makes a caption
a positive of exactly the images that have it among their own captions.
"""
import argparse
import copy
import ctypes
import hashlib
import json
import math
import os
import random
import re
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_model import CLIPModel  # noqa: E402
from clip_tokenizer import Tokenizer  # noqa: E402
from resnet_tower import ResNetTower  # noqa: E402
import synonyms  # noqa: E402

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def preprocess_u8(path, size):
    """Official CLIP order: resize shortest side (bicubic, own mode), round-half-even
    centre crop, convert RGB. Returns uint8 HWC."""
    from PIL import Image
    im = Image.open(path)
    w, h = im.size
    nw, nh = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.BICUBIC)
    top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
    im = im.crop((left, top, left + size, top + size)).convert("RGB")
    return np.asarray(im, dtype=np.uint8)


def load_split_cache(corpus, size, cache_dir):
    os.makedirs(cache_dir, exist_ok=True)
    with open(os.path.join(corpus, "dataset_xmodal.json"), "rb") as f:
        raw = f.read()
    imgs = json.loads(raw)["images"]
    # one cache per corpus folder, image list and size: a rebuilt or edited
    # corpus gets a file of its own rather than another's pixels
    digest = hashlib.sha256(raw).hexdigest()[:12]
    cp = os.path.join(cache_dir, f"{os.path.basename(corpus.rstrip('/'))}_{digest}_images_{size}.npy")
    if os.path.exists(cp):
        arr = np.load(cp)
    else:
        arr = np.stack([preprocess_u8(os.path.join(corpus, im["filepath"], im["filename"]), size)
                        for im in imgs])
        np.save(cp, arr)
    return imgs, torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()  # N,3,H,W uint8


def parse_repeat(spec):
    """'pysiogame=8,gcompris-qt-data=8' -> {'pysiogame': 8, 'gcompris-qt-data': 8}."""
    out = {}
    for part in filter(None, spec.split(",")):
        src, sep, n = part.rpartition("=")
        if not sep or not src or not n.isdigit() or int(n) < 1:
            raise SystemExit(f"--repeat: {part!r} is not SOURCE=N with N >= 1")
        out[src] = int(n)
    return out


def normalize(u8):
    x = u8.float() / 255.0
    m = torch.tensor(MEAN).view(1, 3, 1, 1)
    s = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - m) / s


def augment(u8, strength, gen):
    """Random zoom (0.8..1.15) and shift (+-10%) with white fill; no flips."""
    if strength <= 0:
        return u8
    n = u8.shape[0]
    x = 1.0 - u8.float() / 255.0  # white -> 0 so zero padding is white
    sc = torch.empty(n).uniform_(1 - 0.2 * strength, 1 + 0.15 * strength, generator=gen)
    tx = torch.empty(n).uniform_(-0.1 * strength, 0.1 * strength, generator=gen)
    ty = torch.empty(n).uniform_(-0.1 * strength, 0.1 * strength, generator=gen)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = 1 / sc
    theta[:, 1, 1] = 1 / sc
    theta[:, 0, 2] = tx
    theta[:, 1, 2] = ty
    keep = torch.rand(n, generator=gen) < 0.2  # some images unaugmented
    theta[keep] = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    y = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return ((1.0 - y) * 255.0).round().clamp(0, 255).to(torch.uint8)


def gaussian_blur5(x, sigma):
    """A separable 5-tap Gaussian blur of N,C,H,W with edges replicated, as
    weighted sums of shifted slices: torch 1.13's depthwise conv2d on the CPU
    took 0.25 s per pass over a batch of 256, four passes a step, and with it
    style_augment took 1.4 s a batch against 0.4 s with the slices."""
    r = torch.arange(-2, 3, dtype=torch.float32)
    g = torch.exp(-r * r / (2 * sigma * sigma))
    g = (g / g.sum()).tolist()
    h, w = x.shape[-2:]
    p = F.pad(x, (2, 2, 0, 0), mode="replicate")
    x = sum(g[i] * p[..., :, i:i + w] for i in range(5))
    p = F.pad(x, (0, 0, 2, 2), mode="replicate")
    return sum(g[i] * p[..., i:i + h, :] for i in range(5))


def style_augment(u8, p, gen):
    """Make a fraction p of the images look less like flat icons and more like
    photos and paintings (the pictures people search that the corpus lacks):
    softer edges, shading from a smooth random light field, duller colours
    (sometimes grey) and grain. Everything acts on the ink, 1 - x, which is 0 on
    the white background, so backgrounds stay white as in the corpus."""
    if p <= 0:
        return u8
    n, _, h, w = u8.shape
    ink = 1.0 - u8.float() / 255.0
    on = (torch.rand(n, generator=gen) < p).view(n, 1, 1, 1)
    # blur: none, sigma 0.6 or sigma 1.0, one per image
    pick = torch.randint(0, 3, (n,), generator=gen).view(n, 1, 1, 1)
    y = ink
    for k, sigma in ((1, 0.6), (2, 1.0)):
        y = torch.where(pick == k, gaussian_blur5(ink, sigma), y)
    # shading: more or less ink, smoothly over the picture
    field = torch.empty(n, 1, 4, 4).uniform_(0.6, 1.4, generator=gen)
    y = y * F.interpolate(field, size=(h, w), mode="bilinear", align_corners=False)
    # duller colours: towards the grey of each pixel, all the way for some
    sat = torch.empty(n, 1, 1, 1).uniform_(0.3, 1.0, generator=gen)
    sat = torch.where(torch.rand(n, 1, 1, 1, generator=gen) < 0.15, torch.zeros_like(sat), sat)
    grey = y.mean(dim=1, keepdim=True)
    y = grey + sat * (y - grey)
    # grain where there is ink
    amp = torch.empty(n, 1, 1, 1).uniform_(0.0, 0.06, generator=gen)
    y = y + amp * torch.randn(y.shape, generator=gen) * (ink.amax(dim=1, keepdim=True) > 0.02)
    y = torch.where(on, y.clamp(0, 1), ink)
    return ((1.0 - y) * 255.0).round().clamp(0, 255).to(torch.uint8)


def text_lengths(ids, eot):
    """Each row's length up to and including its end token."""
    return (ids == eot).int().argmax(1) + 1


def cut_length(longest, ctx):
    """The length a batch of texts is cut to: its longest, rounded up to 8
    so that oneDNN, which builds kernels per shape, sees few shapes."""
    return min(ctx, -(-longest // 8) * 8)


def text_features(model, ids, eot, chunk):
    """The text tower's features of ids (one row per text, padded to --ctx).

    With chunk > 0 the rows are sorted by length and encoded chunk rows at a
    time, each chunk cut after its longest text, then put back in order. The
    tower is causal and pools at the end token, so the tokens after it change
    nothing; the corpus's captions average 6 tokens, yet a batch padded to 32
    spent most of the tower's time on padding.
    """
    if chunk <= 0:
        return model.get_text_features(ids)
    n = text_lengths(ids, eot)
    order = torch.argsort(n, stable=True)
    parts = []
    for s in range(0, len(order), chunk):
        rows = order[s:s + chunk]
        parts.append(model.get_text_features(ids[rows, :cut_length(int(n[rows].max()), ids.shape[1])]))
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order))
    return torch.cat(parts).index_select(0, inverse)


@torch.no_grad()
def encode_all(model, px_u8, ids, bs=512, bf16=True):
    model.eval()
    ie, te = [], []
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, px_u8.shape[0], bs):
            ie.append(model.get_image_features(normalize(px_u8[i:i + bs])).float())
        for i in range(0, ids.shape[0], bs):
            te.append(model.get_text_features(ids[i:i + bs]).float())
    model.train()
    return F.normalize(torch.cat(ie), dim=-1), F.normalize(torch.cat(te), dim=-1)


def update_ema(avg, model, decay):
    """avg <- decay*avg + (1-decay)*model, for weights and batch-norm statistics."""
    fa, fm = [], []
    for (_, x), (_, y) in zip(avg.state_dict(keep_vars=True).items(), model.state_dict(keep_vars=True).items()):
        if x.dtype.is_floating_point:
            fa.append(x.data)
            fm.append(y.data)
        else:
            x.data.copy_(y.data)
    torch._foreach_mul_(fa, decay)
    torch._foreach_add_(fa, fm, alpha=1 - decay)


def same_group(groups):
    """Targets under which items of one concept group are positives of each
    other, not negatives."""
    return (groups[:, None] == groups[None, :]).float()


def describing(bi, cj, img_keys, cap_key):
    """Targets under which caption j of the batch is a positive of image i when
    it is, word for word, one of image i's own captions: two renderings of one
    concept that share a caption ("penguin") stay positives of each other,
    while "dog icon" is not a positive of the emoji "dog"."""
    keys = [cap_key[j] for j in cj]
    return torch.tensor([[k in img_keys[i] for k in keys] for i in bi.tolist()], dtype=torch.float32)


def soft_infonce(logits, tgt):
    """Symmetric InfoNCE whose targets spread over every positive: tgt[i, j]
    is 1 where caption j is a positive of image i (the diagonal always)."""
    ti = tgt / tgt.sum(1, keepdim=True)
    tt = tgt.t() / tgt.t().sum(1, keepdim=True)
    return 0.5 * (torch.sum(-ti * F.log_softmax(logits, 1), 1).mean()
                  + torch.sum(-tt * F.log_softmax(logits.t(), 1), 1).mean())


def soft_sigmoid(logits, tgt, bias):
    """SigLIP's pairwise sigmoid loss (Zhai et al. 2023): each image-caption
    pair of the batch is its own binary problem, positive where tgt is 1, so
    no softmax couples a row's pairs. Summed over the pairs and divided by the
    batch size, as in the paper."""
    sign = 2.0 * tgt - 1.0
    return -F.logsigmoid(sign * (logits + bias)).sum() / logits.shape[0]


def with_siblings(bi, siblings, pairs, rng):
    """The batch bi with its last slots given to other renderings of the
    concepts in its first slots (siblings[i]: same concept group, captioned
    differently), up to `pairs` of them. Random batches of a corpus this size
    almost never hold two renderings of one concept, so nothing else asks the
    model to tell a Tabler "dog icon" from the emoji "dog"."""
    out = bi.clone()
    j, n = len(out) - 1, 0
    for k, i in enumerate(bi.tolist()):
        if n == pairs or k >= j:
            break
        sib = siblings.get(i)
        if sib:
            out[j] = sib[rng.randrange(len(sib))]
            j, n = j - 1, n + 1
    return out


def max_violation(ie, te, groups, margin):
    """VSE++'s hinge on the hardest negative (Faghri et al. 2018), both directions.

    ie[i] and te[i] are a matching pair of unit vectors; pairs whose concept
    groups are equal are not negatives (another vendor's drawing of the same
    emoji is not a mistake)."""
    sim = ie @ te.t()
    pos = sim.diagonal()
    neg = sim.masked_fill(groups[:, None] == groups[None, :], -2.0)
    cost_caption = (margin + neg.amax(1) - pos).clamp(min=0)  # image i against its hardest caption
    cost_image = (margin + neg.amax(0) - pos).clamp(min=0)  # caption i against its hardest image
    return 0.5 * (cost_caption.mean() + cost_image.mean())


def load_init(path):
    """Weights to start from: a training checkpoint, or an exported model (F16 safetensors)."""
    if path.endswith(".pt"):
        return torch.load(path, map_location="cpu")["state_dict"]
    if os.path.isdir(path):
        path = os.path.join(path, "model.safetensors")
    import export  # noqa: E402 (export imports this module; import late to avoid a cycle)
    return export.read_safetensors(path)


def recall(img_emb, txt_emb, cap_img, img_groups=None, ks=(1, 5, 10)):
    """cap_img[j] = index of caption j's image. Returns dict of t2i/i2t R@K (%)
    and, if img_groups given, group-aware t2i (any image of the caption's group).
    Exact ties count in the target's favour (xmodal's evaluator breaks them by row order)."""
    sim = txt_emb @ img_emb.t()  # C x N
    cap_img = torch.as_tensor(cap_img)
    pos = sim[torch.arange(sim.shape[0]), cap_img]
    t2i_rank = (sim > pos[:, None]).sum(1)
    n = img_emb.shape[0]
    # i2t: best rank among the image's captions
    simT = sim.t()  # N x C
    best = torch.full((n,), 10 ** 9, dtype=torch.long)
    for j in range(sim.shape[0]):
        i = int(cap_img[j])
        r = int((simT[i] > simT[i, j]).sum())
        if r < best[i]:
            best[i] = r
    out = {}
    for k in ks:
        out[f"t2i@{k}"] = 100.0 * float((t2i_rank < k).float().mean())
    for k in ks:
        out[f"i2t@{k}"] = 100.0 * float((best < k).float().mean())
    if img_groups is not None:
        g = torch.as_tensor(img_groups)
        same = g[None, :] == g[cap_img][:, None]  # C x N
        bestpos = sim.masked_fill(~same, -1e9).amax(1)
        grank = (sim.masked_fill(same, -1e9) > bestpos[:, None]).sum(1)
        for k in ks:
            out[f"t2i_group@{k}"] = 100.0 * float((grank < k).float().mean())
    out["rsum"] = sum(out[f"t2i@{k}"] + out[f"i2t@{k}"] for k in ks)
    return out


def with_article(caption, word=""):
    """'heart' -> 'a heart', 'apple pie' -> 'an apple pie' (or word, such as
    "the", in front); captions that already start with an article are
    returned unchanged."""
    first = caption.split(" ", 1)[0].lower()
    if first in ("a", "an", "the"):
        return caption
    if word:
        return f"{word} {caption}"
    return ("an " if caption[:1].lower() in "aeiou" else "a ") + caption


def as_sentence(caption):
    """'a dog' -> 'A dog.': a caption written as a sentence, as descriptions and
    many typed queries are. The tokenizer lower-cases, so only the full stop
    reaches the model, but 370 of the corpus's 446,085 training captions end
    with one, and a model trained without it ranks "A dog." far below "a dog"."""
    c = caption.strip()
    if not c:
        return caption
    c = c[0].upper() + c[1:]
    return c if c[-1] in ".!?" else c + "."


TEMPLATES = ("{a} {x}", "{a} picture of {a} {x}", "{a} photo of {a} {x}", "{a} drawing of {a} {x}",
             "an image of {a} {x}", "{a} {x} icon", "{pl}", "some {pl}", "{x}")


def article(x):
    return "an" if x[:1].lower() in "aeiou" else "a"


def plural(x):
    w = x.rsplit(" ", 1)
    last = w[-1]
    if re.search(r"(s|x|z|ch|sh)$", last):
        last += "es"
    elif re.search(r"[^aeiou]y$", last):
        last = last[:-1] + "ies"
    else:
        last += "s"
    return " ".join(w[:-1] + [last])


def templated(caption, rng):
    """A caption as a person might type it: "dog face icon" -> "a photo of a dog face",
    "two dog faces"... Only short noun-phrase captions (no colon, <= 5 words)."""
    x = caption.strip()
    for suffix in (" icon", " emoji", " illustration", " (filled)"):
        if x.lower().endswith(suffix):
            x = x[: -len(suffix)].strip()
    if not x or ":" in x or len(x.split()) > 5 or x.lower().split(" ", 1)[0] in ("a", "an", "the"):
        return caption
    t = TEMPLATES[rng.randrange(len(TEMPLATES))]
    a = article(x)
    return t.replace("{a} picture", "a picture").replace("{a} photo", "a photo").replace(
        "{a} drawing", "a drawing").format(a=a, x=x, pl=plural(x))


def keep_freed_memory():
    """Ask glibc to keep freed blocks up to 32 MB in the heap instead of
    handing them back to the kernel. Every step allocates and frees batches of
    12 MB tensors; by default each is a fresh mmap whose pages fault in again,
    which measured 5-7x slower augmentation here (half the CPU time in the
    kernel). Results are unchanged: only where memory comes from differs."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: the largest glibc allows
    libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/work/cache/corpus")
    ap.add_argument("--vocab-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                        "../../testdata/clip/model-a"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--patch", type=int, default=16)
    ap.add_argument("--v-width", type=int, default=192)
    ap.add_argument("--v-layers", type=int, default=6)
    ap.add_argument("--v-heads", type=int, default=3)
    ap.add_argument("--t-width", type=int, default=128)
    ap.add_argument("--t-layers", type=int, default=4)
    ap.add_argument("--t-heads", type=int, default=2)
    ap.add_argument("--mlp-ratio", type=int, default=4)
    ap.add_argument("--ctx", type=int, default=32)
    ap.add_argument("--text-chunk", type=int, default=0,
                    help="encode a batch's captions sorted by length, this many rows at a time, "
                         "each chunk cut after its longest caption (0: the whole batch at --ctx)")
    ap.add_argument("--proj", type=int, default=128)
    ap.add_argument("--act", default="quick_gelu")
    ap.add_argument("--vision", default="vit", choices=("vit", "resnet"))
    ap.add_argument("--r-stem", type=int, default=32)
    ap.add_argument("--r-stem-stride", type=int, default=2,
                    help="stride of the ResNet's 7x7 stem: 3 at --image-size 96 (4 at 128) leaves the rest "
                         "of the network the work that 2 leaves it at 64")
    ap.add_argument("--r-widths", default="32,64,128,256")
    ap.add_argument("--r-layers", default="2,2,2,2")
    ap.add_argument("--epochs", type=float, default=0.0,
                    help="fixed schedule length in epochs (deterministic); 0 = the --minutes wall-clock budget")
    ap.add_argument("--template-aug", type=float, default=0.0,
                    help="probability of rewriting a short caption with a template people type "
                         "('a photo of a dog', 'dogs')")
    ap.add_argument("--synonym-aug", type=float, default=0.0,
                    help="probability of swapping a caption (or its last two words) for a WordNet "
                    "synonym of its most frequent sense, before the other caption augmentations")
    ap.add_argument("--ema", type=float, default=0.0,
                    help="evaluate and export an exponential moving average of the weights with this "
                         "decay per step (0 = the weights themselves)")
    ap.add_argument("--resume", type=int, default=1, help="continue from OUT/last.pt if it exists")
    ap.add_argument("--stop-at-step", type=int, default=0,
                    help="checkpoint and exit after this step, as an interruption would (for testing resume)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--warmup", type=float, default=0.03, help="fraction of steps")
    ap.add_argument("--minutes", type=float, default=5.0, help="wall-clock budget for the schedule")
    ap.add_argument("--aug", type=float, default=0.0)
    ap.add_argument("--style-aug", type=float, default=0.0,
                    help="fraction of training images blurred, shaded, dulled and grained "
                         "to look more like photos and paintings (style_augment)")
    ap.add_argument("--definite-aug", type=float, default=0.0,
                    help="of the captions given an article, the fraction given \"the\" instead of a/an "
                         "(people write \"The letter a.\"; training captions almost never start so)")
    ap.add_argument("--sentence-aug", type=float, default=0.0,
                    help="probability of writing the drawn caption as a sentence, with a capital and a "
                         "full stop ('A dog.'), after the other caption augmentations")
    ap.add_argument("--article-aug", type=float, default=0.0,
                    help="probability of drawing a caption with an indefinite article in front "
                         "('a heart', 'an apple'), as people phrase queries")
    ap.add_argument("--repeat", default="",
                    help="SOURCE=N[,SOURCE=N]: each training image of these corpus sources is seen N times "
                         "an epoch (a few hundred drawings among 160,000 icons would otherwise barely count)")
    ap.add_argument("--group-targets", type=int, default=1)
    ap.add_argument("--caption-targets", type=int, default=0,
                    help="1: a caption is a positive of every image of the batch that has it, word for word, "
                         "among its own captions (instead of every image of its concept group)")
    ap.add_argument("--sibling-frac", type=float, default=0.0,
                    help="fraction of each batch given to other renderings of concepts already in it, "
                         "captioned differently (another vendor's drawing), as within-concept negatives")
    ap.add_argument("--loss", default="softmax", choices=("softmax", "sigmoid"),
                    help="softmax: symmetric InfoNCE (CLIP); sigmoid: SigLIP's pairwise loss, with a "
                         "learned bias (init -10) and the logit scale initialised at ln 10")
    ap.add_argument("--init", default="",
                    help="start from these weights (a training checkpoint .pt, or an exported model folder or "
                         "its model.safetensors) instead of random ones; the optimiser starts afresh")
    ap.add_argument("--hard-weight", type=float, default=0.0,
                    help="weight of VSE++'s max-violation hinge added to InfoNCE: each image and caption "
                         "against its hardest negative of another concept group in the batch")
    ap.add_argument("--margin", type=float, default=0.2, help="the hinge's margin, in cosine similarity")
    ap.add_argument("--gloss-weight", type=float, default=0.0,
                    help="weight of a text-only InfoNCE loss that pairs WordNet nouns with their definitions "
                         "('pickelhaube' with 'a spiked helmet worn by German soldiers'), so words no caption "
                         "uses land near words that pictures taught")
    ap.add_argument("--gloss-batch", type=int, default=128, help="noun-definition pairs a step")
    ap.add_argument("--select-sentences", type=int, default=0,
                    help="choose best.pt by the val recall sum of the captions plus that of the same captions "
                         "written as sentences ('A dog.'), not of the captions alone")
    ap.add_argument("--bf16", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-minutes", type=float, default=10.0)
    ap.add_argument("--eval-every-minutes", type=float, default=0.0,
                    help="0 = once per epoch")
    a = ap.parse_args()
    syn_table = synonyms.load() if a.synonym_aug > 0 else {}
    gloss_pairs = synonyms.glosses() if a.gloss_weight > 0 else []

    keep_freed_memory()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    np.random.seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, "log.jsonl"), "a")

    def say(**kw):
        kw["time"] = time.strftime("%H:%M:%S")
        line = json.dumps(kw)
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    say(event="start", args=vars(a), argv=sys.argv, torch=torch.__version__)
    t0 = time.time()
    imgs, px = load_split_cache(a.corpus, a.image_size, os.path.join(os.path.dirname(a.corpus.rstrip("/")), "cache"))
    tok = Tokenizer(a.vocab_dir)
    group_ids = {}
    img_group = torch.tensor([group_ids.setdefault(im["group"], len(group_ids)) for im in imgs])
    splits = {s: [i for i, im in enumerate(imgs) if im["split"] == s] for s in ("train", "val", "test")}

    # tokenised captions, and the same with an article in front
    cap_ids, cap_art, cap_owner, cap_raw = [], [], [], []
    for i, im in enumerate(imgs):
        for s in im["sentences"]:
            cap_raw.append(s["raw"])
            cap_ids.append(tok(s["raw"], a.ctx))
            cap_art.append(tok(with_article(s["raw"]), a.ctx))
            cap_owner.append(i)
    cap_ids = torch.tensor(cap_ids, dtype=torch.long)
    cap_art = torch.tensor(cap_art, dtype=torch.long)
    cap_owner = torch.tensor(cap_owner)
    img_caps = [[] for _ in imgs]
    for j, i in enumerate(cap_owner.tolist()):
        img_caps[i].append(j)

    def eval_set(split, ids=cap_ids):
        idx = splits[split]
        pos = {g: k for k, g in enumerate(idx)}
        caps = [j for i in idx for j in img_caps[i]]
        cap_img = [pos[int(cap_owner[j])] for j in caps]
        return torch.tensor(idx), ids[caps], cap_img, img_group[idx]

    evsets = {s: eval_set(s) for s in ("val", "test")}
    gloss_ids = torch.tensor([tok(d, a.ctx) for _, d in gloss_pairs], dtype=torch.long)
    if gloss_pairs:
        say(event="glosses", synsets=len(gloss_pairs), lemmas=sum(len(x) for x, _ in gloss_pairs))
    if a.select_sentences:
        # only val's rows are read
        sent_ids = cap_ids.clone()
        for j in (j for i in splits["val"] for j in img_caps[i]):
            sent_ids[j] = torch.tensor(tok(as_sentence(cap_raw[j]), a.ctx))
        evsets["val-sentence"] = eval_set("val", sent_ids)
    say(event="data", n_images=len(imgs), n_captions=len(cap_ids),
        **{f"n_{s}": len(v) for s, v in splits.items()}, prep_seconds=round(time.time() - t0, 1))

    inter = lambda w: w * a.mlp_ratio  # noqa: E731
    tcfg = dict(vocab_size=49408, hidden_size=a.t_width, intermediate_size=inter(a.t_width),
                num_hidden_layers=a.t_layers, num_attention_heads=a.t_heads,
                max_position_embeddings=a.ctx, hidden_act=a.act, layer_norm_eps=1e-5)
    if a.vision == "resnet":
        widths = [int(v) for v in a.r_widths.split(",")]
        vcfg = dict(model_type="xmodal_resnet", image_size=a.image_size, num_channels=3,
                    stem_width=a.r_stem, stem_stride=a.r_stem_stride, widths=widths,
                    layers=[int(v) for v in a.r_layers.split(",")],
                    block="basic", hidden_size=widths[-1], batch_norm_eps=1e-5)
    else:
        vcfg = dict(hidden_size=a.v_width, intermediate_size=inter(a.v_width), num_hidden_layers=a.v_layers,
                    num_attention_heads=a.v_heads, num_channels=3, image_size=a.image_size,
                    patch_size=a.patch, hidden_act=a.act, layer_norm_eps=1e-5)
    sigmoid = a.loss == "sigmoid"
    model = CLIPModel(tcfg, vcfg, a.proj, **({"logit_scale_init": math.log(10.0)} if sigmoid else {}))
    # the sigmoid loss's bias is the loss's, not the model's: it is not exported
    logit_bias = torch.nn.Parameter(torch.tensor(-10.0)) if sigmoid else None
    if a.vision == "resnet":
        model = model.to(memory_format=torch.channels_last)
    nparams = sum(p.numel() for p in model.parameters())
    say(event="model", params=nparams, text_cfg=tcfg, vision_cfg=vcfg, proj=a.proj)

    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "embedding" in n or n == "logit_scale" or ".bn" in n
         or "downsample.1" in n else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd},
                             {"params": no_decay, "weight_decay": 0.0}]
                           + ([{"params": [logit_bias], "weight_decay": 0.0}] if sigmoid else []),
                            lr=a.lr, betas=(0.9, 0.98), eps=1e-6, foreach=True)

    # The average starts as the initial weights; its decay is ramped up
    # (min(ema, (1+step)/(10+step))) so early steps are not frozen in.
    ema_model = copy.deepcopy(model) if a.ema > 0 else None

    repeat = parse_repeat(a.repeat)
    unknown = set(repeat) - {im.get("source") for im in imgs}
    if unknown:
        raise SystemExit(f"--repeat: no images of source {', '.join(sorted(unknown))} in {a.corpus}")
    train_idx = torch.tensor([i for i in splits["train"] for _ in range(repeat.get(imgs[i].get("source"), 1))])
    # captions compared word for word, as a query would be typed; only the
    # two flags below read them, and 450,000 keys are not free at start-up
    cap_key = img_keys = None
    if a.caption_targets or a.sibling_frac > 0:
        cap_key = [r.rstrip(".").strip().lower() for r in cap_raw]
        img_keys = [frozenset(cap_key[j] for j in js) for js in img_caps]
    siblings = {}
    if a.sibling_frac > 0:
        members = {}
        for i in splits["train"]:
            members.setdefault(int(img_group[i]), []).append(i)
        for ms in members.values():
            for i in ms:
                sib = [k for k in ms if img_keys[k] != img_keys[i]]
                if sib:
                    siblings[i] = sib
        say(event="siblings", train_images_with_siblings=len(siblings))
    if repeat:
        say(event="repeat", sources=repeat, train_entries=len(train_idx), train_images=len(splits["train"]))
    steps_per_epoch = len(train_idx) // a.batch
    total = round(a.epochs * steps_per_epoch) if a.epochs > 0 else None
    budget = a.minutes * 60.0
    step, best = 0, -1.0
    last_path = os.path.join(a.out, "last.pt")
    if a.resume and os.path.exists(last_path):
        ck = torch.load(last_path)
        model.load_state_dict(ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        if ema_model is not None:
            ema_model.load_state_dict(ck["ema"])
        if sigmoid:
            logit_bias.data.copy_(ck["logit_bias"])
        step, best = ck["step"], ck.get("best", -1.0)
        say(event="resume", step=step)
    elif a.init:
        sd = load_init(a.init)
        # BatchNorm's step counters are not exported; they do not affect training
        missing, unexpected = model.load_state_dict(sd, strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise SystemExit(f"--init {a.init}: missing {missing[:5]}, unexpected {unexpected[:5]}")
        say(event="init", path=a.init, tensors=len(sd))
    last_log = time.time()
    t_train = time.time() - (ck.get("train_seconds", 0.0) if step else 0.0)
    last_ckpt = time.time()
    last_eval = time.time()
    tok_cache = {}

    def ids_of(text):
        if text not in tok_cache:
            tok_cache[text] = tok(text, a.ctx)
        return tok_cache[text]

    def progress():
        if total:
            return step / total
        return (time.time() - t_train) / budget

    def lr_at(frac):
        if frac < a.warmup:
            return a.lr * frac / a.warmup
        f = (frac - a.warmup) / (1 - a.warmup)
        return a.lr * 0.5 * (1 + math.cos(math.pi * min(f, 1.0)))

    def save(name, extra, weights=None):
        torch.save({"state_dict": (weights or model).state_dict(), "text_cfg": tcfg, "vision_cfg": vcfg,
                    "proj": a.proj, "args": vars(a), "step": step, "epoch": step / steps_per_epoch,
                    "best": best, "train_seconds": time.time() - t_train, **extra},
                   os.path.join(a.out, name + ".tmp"))
        os.replace(os.path.join(a.out, name + ".tmp"), os.path.join(a.out, name))

    def checkpoint():
        extra = {"optimizer": opt.state_dict()}
        if ema_model is not None:
            extra["ema"] = ema_model.state_dict()
        if sigmoid:
            extra["logit_bias"] = logit_bias.detach().clone()
        save("last.pt", extra)

    def evaluate(tag):
        nonlocal best
        res = {}
        for s, (idx, ids, cap_img, grp) in evsets.items():
            ie, te = encode_all(ema_model or model, px[idx], ids, bf16=bool(a.bf16))
            res[s] = {k: round(v, 2) for k, v in recall(ie, te, cap_img, grp).items()}
        say(event="eval", tag=tag, step=step, epoch=round(step / steps_per_epoch, 2),
            elapsed_min=round((time.time() - t_train) / 60, 2),
            logit_scale=round(float(model.logit_scale.exp()), 2),
            **({"logit_bias": round(float(logit_bias), 3)} if sigmoid else {}), **res)
        score = res["val"]["rsum"] + (res["val-sentence"]["rsum"] if a.select_sentences else 0.0)
        if score > best:
            best = score
            save("best.pt", {"eval": res, "ema": a.ema}, ema_model)
        return res

    def trim(ids):
        # the text tower is causal and pools at the end token, so padding
        # after the longest text's end changes nothing and costs time
        return ids[:, :cut_length(int(text_lengths(ids, tok.eot).max()), ids.shape[1])]

    def gloss_loss(step, scale):
        """Symmetric InfoNCE between WordNet nouns and their definitions, in
        the text tower alone: one lemma of each of --gloss-batch synsets."""
        grng = random.Random(a.seed * 1_000_037 + step)
        pick = [grng.randrange(len(gloss_pairs)) for _ in range(a.gloss_batch)]
        lemma_ids = torch.tensor([ids_of(grng.choice(gloss_pairs[k][0])) for k in pick], dtype=torch.long)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(a.bf16)):
            le = model.get_text_features(trim(lemma_ids))
            ge = model.get_text_features(trim(gloss_ids[pick]))
        logits = scale * F.normalize(le.float(), dim=-1) @ F.normalize(ge.float(), dim=-1).t()
        # the same synset drawn twice is a positive, not a negative
        return soft_infonce(logits, same_group(torch.tensor(pick)))

    # Every random choice of a step comes from generators seeded by (seed, step)
    # and each epoch's order from (seed, epoch): a run resumed from any
    # checkpoint takes the same steps as one that never stopped.
    run_loss, run_n = 0.0, 0
    perm_epoch, perm = -1, None
    if a.init and step == 0:
        # the starting weights compete for best.pt: a fine-tune that only hurts val changes nothing
        evaluate("init")
    while progress() < 1.0:
        epoch, b = divmod(step, steps_per_epoch)
        if epoch != perm_epoch:
            pg = torch.Generator().manual_seed(a.seed * 7919 + epoch)
            perm, perm_epoch = train_idx[torch.randperm(len(train_idx), generator=pg)], epoch
        gen = torch.Generator().manual_seed(a.seed * 1_000_003 + step)
        srng = random.Random(a.seed * 1_000_003 + step)
        frac = progress()
        for g in opt.param_groups:
            g["lr"] = lr_at(frac)
        bi = perm[b * a.batch:(b + 1) * a.batch]
        if a.sibling_frac > 0:
            # a generator of its own, so that earlier recipes keep their random streams
            bi = with_siblings(bi, siblings, int(a.sibling_frac * a.batch),
                               random.Random(a.seed * 1_000_039 + step))
        # one random caption variant per image
        cj = [img_caps[i][srng.randrange(len(img_caps[i]))] for i in bi.tolist()]
        rows = []
        for j in cj:
            raw = cap_raw[j]
            # Drawn only when enabled, so that earlier recipes keep their
            # random streams.
            swapped = a.synonym_aug > 0 and srng.random() < a.synonym_aug
            if swapped:
                raw = synonyms.replace(raw, syn_table, srng)
            # text is the caption drawn; row its token ids when precomputed
            r = srng.random()
            if r < a.template_aug:
                text, row = templated(raw, srng), None
            elif r < a.template_aug + a.article_aug:
                # "the" only when enabled (drawn only then, like the synonyms)
                if a.definite_aug > 0 and srng.random() < a.definite_aug:
                    text, row = with_article(raw, "the"), None
                else:
                    text, row = with_article(raw), None if swapped else cap_art[j].tolist()
            else:
                text, row = raw, None if swapped else cap_ids[j].tolist()
            if a.sentence_aug > 0 and srng.random() < a.sentence_aug:
                text, row = as_sentence(text), None
            rows.append(row if row is not None else ids_of(text))
        ids = torch.tensor(rows, dtype=torch.long)
        u8 = augment(px[bi], a.aug, gen)
        if a.style_aug > 0:
            # a generator of its own, so that earlier recipes keep their random streams
            u8 = style_augment(u8, a.style_aug, torch.Generator().manual_seed(a.seed * 1_000_033 + step))
        x = normalize(u8)
        if a.vision == "resnet":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(a.bf16)):
            ie = model.get_image_features(x)
            te = text_features(model, ids, tok.eot, a.text_chunk)
        ie = F.normalize(ie.float(), dim=-1)
        te = F.normalize(te.float(), dim=-1)
        scale = model.logit_scale.exp().clamp(max=100.0)
        logits = scale * ie @ te.t()
        # without group targets every pair is its own group: plain CLIP targets
        if a.caption_targets:
            tgt = describing(bi, cj, img_keys, cap_key)
        else:
            tgt = same_group(img_group[bi] if a.group_targets else torch.arange(len(bi)))
        loss = soft_sigmoid(logits, tgt, logit_bias) if sigmoid else soft_infonce(logits, tgt)
        if a.hard_weight > 0:
            loss = loss + a.hard_weight * max_violation(ie, te, img_group[bi], a.margin)
        if a.gloss_weight > 0:
            loss = loss + a.gloss_weight * gloss_loss(step, scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100.0))
            if ema_model is not None:
                update_ema(ema_model, model, min(a.ema, (1 + step) / (10 + step)))
        step += 1
        run_loss += float(loss)
        run_n += 1
        if step % 20 == 0:
            el = time.time() - t_train
            say(event="train", step=step, of=total, epoch=round(step / steps_per_epoch, 2),
                loss=round(run_loss / run_n, 4), lr=round(lr_at(frac), 6),
                img_per_s=round(20 * a.batch / max(time.time() - last_log, 1e-9), 1),
                elapsed_min=round(el / 60, 2),
                eta_min=round(el / 60 * (1 - progress()) / max(progress(), 1e-9), 1))
            run_loss, run_n = 0.0, 0
        if step % 20 == 0 or step == 1:
            last_log = time.time()
        if step % steps_per_epoch == 0:
            if not a.eval_every_minutes:
                evaluate(f"epoch{step // steps_per_epoch}")
            checkpoint()
            last_ckpt = time.time()
        elif time.time() - last_ckpt > a.ckpt_minutes * 60:
            checkpoint()
            last_ckpt = time.time()
        if a.eval_every_minutes and time.time() - last_eval > a.eval_every_minutes * 60:
            evaluate("periodic")
            last_eval = time.time()
        if step == a.stop_at_step:
            checkpoint()
            say(event="stopped", step=step)
            return
    res = evaluate("final")
    checkpoint()
    say(event="done", steps=step, epochs=round(step / steps_per_epoch, 2),
        train_min=round((time.time() - t_train) / 60, 2))


if __name__ == "__main__":
    main()
