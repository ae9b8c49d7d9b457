#!/usr/bin/env python3
"""Average the weights of the last K epoch snapshots of a run (SWA-style, on the
low-learning-rate tail of the cosine schedule) and pick K on the VAL split.

  /usr/bin/python3 tools/train/average.py --snaps 'DIR/snaps/*.pt' --ks 1,3,5,8,12 \
      --out DIR/avg.pt [--also DIR/best.pt]

Prints val and test recall for each candidate (test for reporting only); writes
the candidate with the best val recall sum to --out (same checkpoint format as
train.py, so export.py reads it).
"""
import argparse
import glob
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train as T  # noqa: E402
from clip_model import CLIPModel  # noqa: E402
from clip_tokenizer import Tokenizer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--snaps", required=True, help="glob of epoch snapshots (sorted by name = time)")
    ap.add_argument("--ks", default="1,3,5,8,12")
    ap.add_argument("--also", action="append", default=[], help="extra single checkpoints to compare")
    ap.add_argument("--corpus", default="/work/cache/corpus")
    ap.add_argument("--vocab-dir", default=os.path.join(HERE, "../../testdata/clip/model-a"))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    snaps = sorted(glob.glob(a.snaps))
    ck0 = torch.load(snaps[-1], map_location="cpu")
    tc, vc, proj = ck0["text_cfg"], ck0["vision_cfg"], ck0["proj"]
    size, ctx = vc["image_size"], tc["max_position_embeddings"]
    imgs, px = T.load_split_cache(a.corpus, size, os.path.join(os.path.dirname(a.corpus.rstrip("/")), "cache"))
    tok = Tokenizer(a.vocab_dir)
    gid = {}
    grp = torch.tensor([gid.setdefault(im["group"], len(gid)) for im in imgs])

    def evset(split):
        idx = [i for i, im in enumerate(imgs) if im["split"] == split]
        ids, cap_img = [], []
        for k, i in enumerate(idx):
            for s in imgs[i]["sentences"]:
                ids.append(tok(s["raw"], ctx))
                cap_img.append(k)
        return torch.tensor(idx), torch.tensor(ids), cap_img, grp[idx]

    sets = {s: evset(s) for s in ("val", "test")}
    model = CLIPModel(tc, vc, proj)

    def score(sd):
        model.load_state_dict(sd)
        out = {}
        for s, (idx, ids, cap_img, g) in sets.items():
            ie, te = T.encode_all(model, px[idx], ids, bf16=False)
            out[s] = {k: round(v, 2) for k, v in T.recall(ie, te, cap_img, g).items()}
        return out

    cands = []
    for p in a.also:
        ck = torch.load(p, map_location="cpu")
        cands.append((f"single:{os.path.basename(p)}", ck["state_dict"], ck))
    for k in [int(x) for x in a.ks.split(",")]:
        if k > len(snaps):
            continue
        use = snaps[-k:]
        acc = None
        for p in use:
            sd = torch.load(p, map_location="cpu")["state_dict"]
            if acc is None:
                acc = {n: v.clone().double() for n, v in sd.items()}
            else:
                for n in acc:
                    acc[n] += sd[n].double()
        avg = {n: (v / len(use)).float() for n, v in acc.items()}
        cands.append((f"avg_last{k}", avg, {"snapshots": [os.path.basename(p) for p in use]}))
    best = None
    for name, sd, meta in cands:
        r = score(sd)
        print(json.dumps({"candidate": name, **r}), flush=True)
        if best is None or r["val"]["rsum"] > best[1]["val"]["rsum"]:
            best = (name, r, sd, meta)
    name, r, sd, meta = best
    torch.save({"state_dict": sd, "text_cfg": tc, "vision_cfg": vc, "proj": proj,
                "args": ck0.get("args"), "step": ck0.get("step"), "epoch": ck0.get("epoch"),
                "chosen": name, "eval": r, "meta": {k: v for k, v in meta.items() if k != "state_dict"}
                if isinstance(meta, dict) else {}}, a.out)
    print(json.dumps({"chosen": name, **r}))


if __name__ == "__main__":
    main()
