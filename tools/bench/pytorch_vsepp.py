"""Encode random images and captions with PyTorch running the official VSE++
structure, for comparison with `xmodal bench --arch vsepp-resnet152` and
`--arch vsepp-vgg19`.

Usage (Debian's python3-torch and python3-torchvision; unset the OpenBLAS
variables this workplace sets, they slow PyTorch down):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        /usr/bin/python3 tools/bench/pytorch_vsepp.py --arch resnet152 --batch 32 --threads 2

The model is the official EncoderImageFull and EncoderText at full size:
torchvision's ResNet-152 (fc removed) or VGG-19 (last classifier Linear
removed), l2norm, Linear(features, 1024), l2norm; Embedding(10000, 300), a
one-layer GRU of 1024, the last output, l2norm. Weights are random. Prints
one JSON object per precision: images/s at the batch size (fp32, and bf16
autocast), and captions/s encoding one caption at a time (as queries
arrive) and as one padded batch, after a warm-up.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torchvision


def l2norm(x):
    return x / x.pow(2).sum(dim=1, keepdim=True).sqrt()


class ImageTower(nn.Module):
    def __init__(self, arch, embed=1024):
        super().__init__()
        if arch == "resnet152":
            self.cnn = torchvision.models.resnet152()
            features = self.cnn.fc.in_features
            self.cnn.fc = nn.Sequential()
        else:
            self.cnn = torchvision.models.vgg19()
            features = self.cnn.classifier[6].in_features
            self.cnn.classifier = nn.Sequential(*list(self.cnn.classifier.children())[:-1])
        self.fc = nn.Linear(features, embed)

    def forward(self, x):
        return l2norm(self.fc(l2norm(self.cnn(x))))


class TextTower(nn.Module):
    def __init__(self, vocab=10000, word_dim=300, embed=1024):
        super().__init__()
        self.embed = nn.Embedding(vocab, word_dim)
        self.rnn = nn.GRU(word_dim, embed, 1, batch_first=True)

    def forward(self, ids, lengths):
        x = self.embed(ids)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True)
        out, _ = self.rnn(packed)
        padded, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
        idx = (torch.tensor(lengths) - 1).view(-1, 1, 1).expand(len(lengths), 1, padded.size(2))
        return l2norm(padded.gather(1, idx).squeeze(1))


def measure(fn, seconds):
    fn()  # warm-up
    n, start = 0, time.perf_counter()
    while n < 2 or time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=["resnet152", "vgg19"], default="resnet152")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--precisions", default="f32,bf16")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    img, txt = ImageTower(args.arch).eval(), TextTower().eval()
    x = torch.randn(args.batch, 3, 224, 224)
    ids = torch.randint(4, 10000, (args.batch, args.tokens))
    for prec in args.precisions.split(","):
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if prec == "bf16" else torch.autocast("cpu", enabled=False)
        with torch.inference_mode(), ctx:
            ips = args.batch * measure(lambda: img(x), args.seconds)
            one = args.batch * measure(lambda: [txt(ids[i:i + 1], [args.tokens]) for i in range(args.batch)], args.seconds / 2)
            batched = args.batch * measure(lambda: txt(ids, [args.tokens] * args.batch), args.seconds / 2)
        print(json.dumps({"arch": args.arch, "precision": prec, "batch": args.batch, "threads": args.threads,
                          "images_per_s": round(ips, 2), "captions_per_s_one_at_a_time": round(one, 1),
                          "captions_per_s_batched": round(batched, 1), "tokens": args.tokens,
                          "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
