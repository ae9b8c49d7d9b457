#!/usr/bin/env python3
"""Export a train.py checkpoint as a Hugging Face CLIPModel folder (F16 safetensors)
and verify it.

  /usr/bin/python3 tools/train/export.py --ckpt /work/cache/train/RUN/best.pt \
      --out model/builtin/default [--corpus /work/cache/corpus]

Writes config.json, model.safetensors (every tensor F16, logit_scale 0-d),
vocab.json, merges.txt (copied from --vocab-dir), preprocessor_config.json.
Verification: (1) re-read the file with our own reader and compare every tensor
with the checkpoint; (2) run the independent reference forward pass
(/work/shared/reference/hf_clip_ref.py, float32, weights upcast from F16) on texts
and test images and compare with the training model (float32, original f32
weights, and f32 weights rounded to F16); (3) with --corpus, the test-split
recall through the reference path, from the PNG files (official preprocessing)
and the reference tokenizer.
"""
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from clip_model import CLIPModel  # noqa: E402
from clip_tokenizer import Tokenizer  # noqa: E402
import train as T  # noqa: E402
from resnet_tower import stem_stride  # noqa: E402

MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]


def write_safetensors_f16(path, sd, metadata):
    items = []
    for name in sorted(sd):
        t = sd[name].detach().float().contiguous()
        raw = t.numpy().astype("<f2").tobytes()
        items.append((name, list(t.shape), raw))
    header = {"__metadata__": metadata}
    pos = 0
    for name, shape, raw in items:
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [pos, pos + len(raw)]}
        pos += len(raw)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for _, _, raw in items:
            f.write(raw)


def read_safetensors(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    data = blob[8 + n:]
    out = {}
    for k, v in header.items():
        assert v["dtype"] == "F16"
        b, e = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data[b:e], dtype="<f2").reshape(v["shape"]).astype(np.float32))
    return out


def resnet_vision_config(vc, proj):
    return {"model_type": "xmodal_resnet", "block": "basic", "image_size": vc["image_size"],
            "num_channels": 3, "stem_width": vc["stem_width"], "stem_stride": stem_stride(vc),
            "widths": vc["widths"],
            "layers": vc["layers"], "hidden_size": vc["hidden_size"],
            "batch_norm_eps": vc["batch_norm_eps"], "projection_dim": proj}


def strip_final_full_stop(text):
    """What xmodal does to a text before tokenizing when the config sets
    xmodal_strip_final_full_stop: "A dog." -> "A dog" (model/clip)."""
    t = text.rstrip(". \t\r\n")
    return t if t.strip() else text


def config_json(tc, vc, proj, logit_scale, name="xmodal-default-clip", strip_stop=False):
    text = {"attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0, "eos_token_id": 2,
            "hidden_act": tc["hidden_act"], "hidden_size": tc["hidden_size"],
            "initializer_factor": 1.0, "initializer_range": 0.02,
            "intermediate_size": tc["intermediate_size"], "layer_norm_eps": tc["layer_norm_eps"],
            "max_position_embeddings": tc["max_position_embeddings"], "model_type": "clip_text_model",
            "num_attention_heads": tc["num_attention_heads"], "num_hidden_layers": tc["num_hidden_layers"],
            "pad_token_id": 1, "projection_dim": proj, "vocab_size": tc["vocab_size"]}
    if strip_stop:
        text["xmodal_strip_final_full_stop"] = True
    if vc.get("model_type") == "xmodal_resnet":
        return {"_name_or_path": name, "architectures": ["XmodalCLIPResNetModel"],
                "logit_scale_init_value": 2.6592, "model_type": "clip", "projection_dim": proj,
                "text_config": text, "torch_dtype": "float16",
                "vision_config": resnet_vision_config(vc, proj)}
    vision = {"attention_dropout": 0.0, "dropout": 0.0, "hidden_act": vc["hidden_act"],
              "hidden_size": vc["hidden_size"], "image_size": vc["image_size"],
              "initializer_factor": 1.0, "initializer_range": 0.02,
              "intermediate_size": vc["intermediate_size"], "layer_norm_eps": vc["layer_norm_eps"],
              "model_type": "clip_vision_model", "num_attention_heads": vc["num_attention_heads"],
              "num_channels": vc["num_channels"], "num_hidden_layers": vc["num_hidden_layers"],
              "patch_size": vc["patch_size"], "projection_dim": proj}
    return {"_name_or_path": name, "architectures": ["CLIPModel"],
            "initializer_factor": 1.0, "logit_scale_init_value": 2.6592, "model_type": "clip",
            "projection_dim": proj, "text_config": text, "torch_dtype": "float16",
            "vision_config": vision}


def resnet_image_features(w, vc, px):
    """The ResNet tower written out functionally from the exported tensors
    (eval-mode batch norm), as the reference the nn.Module is checked against."""
    eps = vc["batch_norm_eps"]

    def cbn(x, conv, bn, stride, pad):
        x = F.conv2d(x, w[conv + ".weight"], None, stride, pad)
        return F.batch_norm(x, w[bn + ".running_mean"], w[bn + ".running_var"],
                            w[bn + ".weight"], w[bn + ".bias"], False, 0.0, eps)

    p = "vision_model."
    x = F.max_pool2d(F.relu(cbn(px, p + "conv1", p + "bn1", stem_stride(vc), 3)), 3, 2, 1)
    for li, n in enumerate(vc["layers"]):
        for i in range(n):
            q = f"{p}layer{li + 1}.{i}."
            stride = 2 if (i == 0 and li > 0) else 1
            y = F.relu(cbn(x, q + "conv1", q + "bn1", stride, 1))
            y = cbn(y, q + "conv2", q + "bn2", 1, 1)
            idt = cbn(x, q + "downsample.0", q + "downsample.1", stride, 0) if q + "downsample.0.weight" in w else x
            x = F.relu(y + idt)
    return F.linear(x.mean((2, 3)), w["visual_projection.weight"])


class ResNetRef:
    """hf_clip_ref's text path with the functional ResNet image path."""

    def __init__(self, ref, weights, vc):
        self.ref, self.w, self.vc = ref, weights, vc

    def text_features(self, ids):
        return self.ref.text_features(ids)

    def image_features(self, px):
        return resnet_image_features(self.w, self.vc, px.float())

    def logit_scale(self):
        return self.ref.logit_scale()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab-dir", default=os.path.join(HERE, "../../testdata/clip/model-a"))
    ap.add_argument("--reference", default="/work/shared/reference/hf_clip_ref.py")
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--report", default=None, help="write verification JSON here")
    ap.add_argument("--strip-final-full-stop", type=int, default=1,
                    help="tell xmodal to drop a text's final full stop before tokenizing (the corpus's "
                         "captions almost never end with one: 370 of 446,085); the recall check does too")
    a = ap.parse_args()
    torch.set_num_threads(1)

    ck = torch.load(a.ckpt, map_location="cpu")
    tc, vc, proj = ck["text_cfg"], ck["vision_cfg"], ck["proj"]
    model = CLIPModel(tc, vc, proj)
    model.load_state_dict(ck["state_dict"])
    model.eval()
    # BatchNorm's step counters are not weights
    sd = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    resnet = vc.get("model_type") == "xmodal_resnet"
    os.makedirs(a.out, exist_ok=True)
    meta = {"format": "pt", "producer": "xmodal tools/train/export.py",
            "step": str(ck.get("step")), "epoch": str(ck.get("epoch"))}
    write_safetensors_f16(os.path.join(a.out, "model.safetensors"), sd, meta)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config_json(tc, vc, proj, float(sd["logit_scale"]), strip_stop=bool(a.strip_final_full_stop)), f,
                  indent=2)
        f.write("\n")
    size = vc["image_size"]
    with open(os.path.join(a.out, "preprocessor_config.json"), "w") as f:
        json.dump({"crop_size": size, "do_center_crop": True, "do_normalize": True, "do_resize": True,
                   "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": MEAN,
                   "image_std": STD, "resample": 3, "size": size}, f, indent=2)
        f.write("\n")
    for fn in ("vocab.json", "merges.txt"):
        shutil.copyfile(os.path.join(a.vocab_dir, fn), os.path.join(a.out, fn))

    report = {"ckpt": a.ckpt, "step": ck.get("step"), "epoch": ck.get("epoch")}
    # (1) round trip
    back = read_safetensors(os.path.join(a.out, "model.safetensors"))
    assert set(back) == set(sd), set(back) ^ set(sd)
    report["n_tensors"] = len(back)
    report["max_abs_f16_rounding"] = max(float((back[k] - sd[k]).abs().max()) for k in sd)
    assert all(back[k].shape == sd[k].shape for k in sd)
    assert back["logit_scale"].shape == torch.Size([])
    report["params"] = int(sum(v.numel() for v in back.values()))
    report["folder_bytes"] = sum(os.path.getsize(os.path.join(a.out, f)) for f in os.listdir(a.out))

    # (2) reference forward pass vs training model
    sys.path.insert(0, os.path.dirname(a.reference))
    import hf_clip_ref as R
    ref = R.CLIPRef(a.out, torch.float32)
    if resnet:
        ref = ResNetRef(ref, back, vc)
    rtok = R.CLIPTokenizerRef(a.out)
    mytok = Tokenizer(a.out)
    texts = ["grinning face", "flag: Sweden", "arrow left icon", "a red heart",
             "Lighthouse. Red and white striped lighthouse", "clip art of cat: animal, pet",
             "", "x" * 200]
    ctx = tc["max_position_embeddings"]
    ids_ref = torch.tensor([rtok(t, ctx)[0] for t in texts])
    ids_my = torch.tensor([mytok(t, ctx) for t in texts])
    report["tokenizer_equal"] = bool(torch.equal(ids_ref, ids_my))
    model16 = CLIPModel(tc, vc, proj)
    model16.load_state_dict(back, strict=False)
    model16.eval()
    with torch.no_grad():
        tr = F.normalize(ref.text_features(ids_ref), dim=-1)
        t32 = F.normalize(model.get_text_features(ids_ref), dim=-1)
        t16 = F.normalize(model16.get_text_features(ids_ref), dim=-1)
        g = torch.Generator().manual_seed(0)
        px = torch.randn(6, 3, size, size, generator=g)
        ir = F.normalize(ref.image_features(px), dim=-1)
        i32 = F.normalize(model.get_image_features(px), dim=-1)
        i16 = F.normalize(model16.get_image_features(px), dim=-1)
    report["text_ref_vs_train_f16weights_maxabs"] = float((tr - t16).abs().max())
    report["text_ref_vs_train_f32weights_maxabs"] = float((tr - t32).abs().max())
    report["text_ref_vs_train_f32weights_mincos"] = float((tr * t32).sum(-1).min())
    report["image_ref_vs_train_f16weights_maxabs"] = float((ir - i16).abs().max())
    report["image_ref_vs_train_f32weights_maxabs"] = float((ir - i32).abs().max())
    report["image_ref_vs_train_f32weights_mincos"] = float((ir * i32).sum(-1).min())
    report["logit_scale_exp"] = float(np.exp(ref.logit_scale()))

    # (3) test recall through the reference path, from the image files
    if a.corpus:
        from PIL import Image
        pp = R.load_preprocessor_config(a.out)
        ds = json.load(open(os.path.join(a.corpus, "dataset_xmodal.json"), encoding="utf-8"))
        test = [im for im in ds["images"] if im["split"] == "test"]
        pxs = [R.preprocess_image(Image.open(os.path.join(a.corpus, im["filepath"], im["filename"])),
                                  pp["size"], pp["crop"], pp["mean"], pp["std"]) for im in test]
        caps, cap_img = [], []
        for i, im in enumerate(test):
            for s in im["sentences"]:
                raw = strip_final_full_stop(s["raw"]) if a.strip_final_full_stop else s["raw"]
                caps.append(rtok(raw, ctx)[0])
                cap_img.append(i)
        with torch.no_grad():
            ie = torch.cat([ref.image_features(torch.from_numpy(np.stack(pxs[i:i + 256])))
                            for i in range(0, len(pxs), 256)])
            te = torch.cat([ref.text_features(torch.tensor(caps[i:i + 256]))
                            for i in range(0, len(caps), 256)])
            # the training model on the same inputs, for comparison
            ie_train = torch.cat([model.get_image_features(torch.from_numpy(np.stack(pxs[i:i + 256])))
                                  for i in range(0, len(pxs), 256)])
        gid = {}
        grp = [gid.setdefault(im["group"], len(gid)) for im in test]
        res = T.recall(F.normalize(ie, dim=-1), F.normalize(te, dim=-1), cap_img, grp)
        report["test_recall_reference_path"] = {k: round(v, 2) for k, v in res.items()}
        # text->image R@1/10 per source of the caption's image (ranked among all test images),
        # and for the canonical (first) caption only
        iem, tem = F.normalize(ie, dim=-1), F.normalize(te, dim=-1)
        sim = tem @ iem.t()
        ci = torch.tensor(cap_img)
        rank = (sim > sim[torch.arange(len(ci)), ci][:, None]).sum(1)
        first = torch.tensor([j == 0 or cap_img[j - 1] != cap_img[j] for j in range(len(cap_img))])
        by = {}
        for src in sorted({im["source"] for im in test}):
            m = torch.tensor([test[i]["source"] == src for i in cap_img])
            by[src] = {"captions": int(m.sum()),
                       "t2i@1": round(100 * float((rank[m] < 1).float().mean()), 2),
                       "t2i@10": round(100 * float((rank[m] < 10).float().mean()), 2)}
        report["test_t2i_by_source"] = by
        report["test_t2i_canonical_caption_only"] = {
            f"t2i@{k}": round(100 * float((rank[first] < k).float().mean()), 2) for k in (1, 5, 10)}
        report["test_n_images"] = len(test)
        report["test_n_captions"] = len(caps)
        report["test_image_emb_ref_vs_train_f32_mincos"] = float(
            (F.normalize(ie, dim=-1) * F.normalize(ie_train, dim=-1)).sum(-1).min())
    print(json.dumps(report, indent=1))
    if a.report:
        with open(a.report, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
