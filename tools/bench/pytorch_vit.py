"""Encode random images with PyTorch's CLIP ViT-B/32 image tower, for comparison
with `xmodal bench --arch ViT-B/32`.

Usage (Debian's python3-torch, as for tools/train):

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
        /usr/bin/python3 tools/bench/pytorch_vit.py --batch 32 --threads 2

Prints one JSON object per precision: images/s for the same work as xmodal's
image benchmark (random weights in HF CLIPModel layout, from pixel values to
the projected embedding), after a warm-up batch.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "train"))
from clip_model import CLIPModel  # noqa: E402

VISION = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
              patch_size=32, image_size=224, num_channels=3, hidden_act="quick_gelu", layer_norm_eps=1e-5)
TEXT = dict(hidden_size=512, num_hidden_layers=12, num_attention_heads=8, intermediate_size=2048,
            vocab_size=49408, max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5,
            eos_token_id=2)


def measure(fn, seconds):
    fn()  # warm-up
    n, start = 0, time.perf_counter()
    while n < 2 or time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=10)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = CLIPModel(TEXT, VISION, 512).eval()
    px = torch.randn(args.batch, 3, 224, 224)
    for precision in ("f32", "bf16"):
        def run():
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                model.get_image_features(px)
        rate = measure(run, args.seconds) * args.batch
        print(json.dumps({"framework": f"torch {torch.__version__}", "precision": precision,
                          "batch": args.batch, "threads": args.threads, "images_per_s": round(rate, 2)}))


if __name__ == "__main__":
    main()
