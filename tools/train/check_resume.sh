#!/usr/bin/env bash
# Check that training is deterministic and resumable: a tiny model trained for
# two epochs straight (50 steps; --repeat doubles its one training source; with
# the WordNet gloss loss) must
# equal, bit for bit, one stopped after step 7 and resumed from its checkpoint
# (across an epoch boundary). Then the same for a fine-tune of the result with
# the hard-negative hinge, chosen with sentences too (--init, --hard-weight,
# --select-sentences), and for a run with SigLIP's sigmoid loss, whose learned
# bias lives outside the model (--loss sigmoid), its captions encoded in
# length-sorted chunks (--text-chunk), its batches given siblings and its
# targets by caption (--sibling-frac, --caption-targets).
# Usage: bash tools/train/check_resume.sh CORPUS_DIR [SCRATCH_DIR]   (about 1 min of CPU)
set -euo pipefail
CORPUS="$1"
WORK="${2:-$(mktemp -d)}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$WORK/corpus"
ln -sfn "$(cd "$CORPUS" && pwd)/images" "$WORK/corpus/images"
/usr/bin/python3 - "$CORPUS/dataset_xmodal.json" "$WORK/corpus/dataset_xmodal.json" <<'PY'
import json, sys
ims = json.load(open(sys.argv[1]))["images"]
pick = lambda s, n, step=1: [im for im in ims if im["split"] == s][:n:step]
# and 40 concepts drawn twice, captioned differently, for --sibling-frac
train = pick("train", 1200, 3)
groups = {}
for im in ims:
    if im["split"] == "train" and im not in train:
        groups.setdefault(im["group"], {}).setdefault(im["sentences"][0]["raw"], im)
twice = [im for g in sorted(groups) if len(groups[g]) > 1 for im in list(groups[g].values())[:2]][:80]
json.dump({"images": train + twice + pick("val", 60) + pick("test", 60)}, open(sys.argv[2], "w"))
PY
COMMON=(--corpus "$WORK/corpus" --seed 3 --vision resnet --image-size 32 --r-stem 8 --r-widths 8,16,16,16
  --r-layers 1,1,1,1 --t-width 32 --t-layers 1 --t-heads 2 --ctx 16 --proj 16 --batch 32 --lr 1e-3
  --aug 0.5 --style-aug 0.5 --article-aug 0.2 --definite-aug 0.5 --template-aug 0.3 --synonym-aug 0.2 --sentence-aug 0.3
  --gloss-weight 0.5 --gloss-batch 16 --repeat emoji-datasource-google=2 --bf16 1 --threads 1 --epochs 2 --ckpt-minutes 100)
FINETUNE=(--init "$WORK/A/last.pt" --hard-weight 1 --margin 0.2 --select-sentences 1 --lr 1e-4 --epochs 1)
rm -rf "$WORK/A" "$WORK/B" "$WORK/C" "$WORK/D" "$WORK/E" "$WORK/F"
/usr/bin/python3 "$HERE/train.py" "${COMMON[@]}" --out "$WORK/A" > "$WORK/A.log"
/usr/bin/python3 "$HERE/train.py" "${COMMON[@]}" --out "$WORK/B" --stop-at-step 7 > "$WORK/B1.log"
/usr/bin/python3 "$HERE/train.py" "${COMMON[@]}" --out "$WORK/B" > "$WORK/B2.log"
/usr/bin/python3 "$HERE/train.py" "${COMMON[@]}" "${FINETUNE[@]}" --out "$WORK/C" > "$WORK/C.log"
/usr/bin/python3 "$HERE/train.py" "${COMMON[@]}" "${FINETUNE[@]}" --out "$WORK/D" --stop-at-step 5 > "$WORK/D1.log"
/usr/bin/python3 "$HERE/train.py" "${COMMON[@]}" "${FINETUNE[@]}" --out "$WORK/D" > "$WORK/D2.log"
/usr/bin/python3 "$HERE/train.py" "${COMMON[@]}" --loss sigmoid --text-chunk 8 --sibling-frac 0.25 --caption-targets 1 --out "$WORK/E" > "$WORK/E.log"
/usr/bin/python3 "$HERE/train.py" "${COMMON[@]}" --loss sigmoid --text-chunk 8 --sibling-frac 0.25 --caption-targets 1 --out "$WORK/F" --stop-at-step 7 > "$WORK/F1.log"
/usr/bin/python3 "$HERE/train.py" "${COMMON[@]}" --loss sigmoid --text-chunk 8 --sibling-frac 0.25 --caption-targets 1 --out "$WORK/F" > "$WORK/F2.log"
/usr/bin/python3 - "$WORK" <<'PY'
import sys, torch
ok = True
for x, y in (("A", "B"), ("C", "D"), ("E", "F")):
    a = torch.load(f"{sys.argv[1]}/{x}/last.pt")
    b = torch.load(f"{sys.argv[1]}/{y}/last.pt")
    d = max(float((a["state_dict"][k].float() - b["state_dict"][k].float()).abs().max()) for k in a["state_dict"])
    print(f"{x} and {y}: steps {a['step']} and {b['step']}; largest weight difference {d}")
    ok = ok and d == 0 and a["step"] == b["step"] and float(a.get("logit_bias", 0)) == float(b.get("logit_bias", 0))
sys.exit(0 if ok else 1)
PY
