#!/usr/bin/env python3
"""Write model/clip/testdata/resnet-tiny: a tiny random CLIP with a ResNet
image tower (xmodal_resnet), exported exactly as export.py exports trained
models, and the embeddings torch computes for a few texts and images, which
the Go tests must reproduce.

  /usr/bin/python3 tools/train/make_resnet_golden.py --out model/clip/testdata/resnet-tiny
  /usr/bin/python3 tools/train/make_resnet_golden.py --out model/clip/testdata/resnet-tiny-stride3 \
      --image-size 48 --stem-stride 3

Batch-norm statistics and affine parameters are randomised so that folding
them into the convolutions is exercised. Expected values come from the
exported F16 weights upcast to float32 (what Go computes with), in eval mode.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from clip_model import CLIPModel  # noqa: E402
from clip_tokenizer import Tokenizer  # noqa: E402
import export as E  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab-dir", default=os.path.join(HERE, "../../testdata/clip/model-a"))
    ap.add_argument("--image-size", type=int, default=40)
    ap.add_argument("--stem-stride", type=int, default=2)
    a = ap.parse_args()
    torch.manual_seed(7)
    tc = dict(vocab_size=49408, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
              num_attention_heads=2, max_position_embeddings=16, hidden_act="quick_gelu",
              layer_norm_eps=1e-5)
    vc = dict(model_type="xmodal_resnet", image_size=a.image_size, num_channels=3, stem_width=8,
              stem_stride=a.stem_stride,
              widths=[8, 16, 16, 24], layers=[1, 2, 1, 1], block="basic", hidden_size=24,
              batch_norm_eps=1e-5)
    proj = 12
    model = CLIPModel(tc, vc, proj)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    model.eval()
    os.makedirs(a.out, exist_ok=True)
    sd = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    E.write_safetensors_f16(os.path.join(a.out, "model.safetensors"), sd,
                            {"format": "pt", "producer": "xmodal tools/train/make_resnet_golden.py"})
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(E.config_json(tc, vc, proj, float(sd["logit_scale"]), name=os.path.basename(a.out.rstrip("/"))), f, indent=2)
        f.write("\n")
    back = E.read_safetensors(os.path.join(a.out, "model.safetensors"))
    m16 = CLIPModel(tc, vc, proj)
    m16.load_state_dict(back, strict=False)
    m16.eval()
    tok = Tokenizer(a.vocab_dir)
    texts = ["a dog", "a photo of a red bicycle", "grinning face with sweat", ""]
    ids = [tok(t, tc["max_position_embeddings"]) for t in texts]
    g = torch.Generator().manual_seed(11)
    px = torch.randn(3, 3, vc["image_size"], vc["image_size"], generator=g)
    with torch.no_grad():
        te = m16.get_text_features(torch.tensor(ids))
        ie = m16.get_image_features(px)
        ie_ref = E.resnet_image_features(back, vc, px)
    assert float((ie - ie_ref).abs().max()) < 1e-5, float((ie - ie_ref).abs().max())
    with open(os.path.join(a.out, "expected.json"), "w") as f:
        json.dump({"texts": texts, "ids": ids, "text_features": te.tolist(),
                   "pixels": [p.flatten().tolist() for p in px], "image_features": ie.tolist(),
                   "note": "un-normalised features from the F16 weights in float32 (torch 1.13, eval mode)"},
                  f)
    print("wrote", a.out, "image max |torch - functional| =", float((ie - ie_ref).abs().max()))


if __name__ == "__main__":
    main()
