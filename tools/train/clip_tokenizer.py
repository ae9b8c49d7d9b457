"""CLIP byte-level BPE tokenizer (own copy, as xmodal's Go tokenizer does it).

Cleaning: NFC, html.unescape twice, collapse Unicode whitespace, strip,
lower-case (our captions are plain text, so ftfy's extra repairs do not apply).
Output: [SOT] ids [EOT], truncated to context_length keeping EOT last, padded
with 0 (pooling uses the first EOT = argmax, so padding does not matter).
"""
import html
import json
import os
import re
import unicodedata

SOT, EOT = "<|startoftext|>", "<|endoftext|>"
try:
    import regex as _re
    PRETOK = _re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+",
                         _re.IGNORECASE)
except ImportError:  # stdlib fallback: [^\W\d_] = letters, \d = digits
    PRETOK = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+",
                        re.IGNORECASE)


def bytes_to_unicode():
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class Tokenizer:
    def __init__(self, folder):
        with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
            self.vocab = json.load(f)
        with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
            lines = [ln for ln in f.read().split("\n") if ln and not ln.startswith("#version")]
        self.ranks = {tuple(ln.split(" ")): i for i, ln in enumerate(lines)}
        self.b2u = bytes_to_unicode()
        self.sot, self.eot = self.vocab[SOT], self.vocab[EOT]
        self.cache = {}

    @staticmethod
    def clean(text):
        text = unicodedata.normalize("NFC", text)
        text = html.unescape(html.unescape(text))
        text = " ".join(text.split())
        return text.lower()

    def bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        syms = list(word[:-1]) + [word[-1] + "</w>"]
        while len(syms) > 1:
            pairs = [(self.ranks.get((syms[i], syms[i + 1]), 1 << 30), i) for i in range(len(syms) - 1)]
            r, _ = min(pairs)
            if r == 1 << 30:
                break
            a, b = syms[_], syms[_ + 1]
            out, i = [], 0
            while i < len(syms):
                if i < len(syms) - 1 and syms[i] == a and syms[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            syms = out
        self.cache[word] = syms
        return syms

    def encode(self, text):
        ids = []
        for piece in PRETOK.findall(self.clean(text)):
            if piece in (SOT, EOT):
                ids.append(self.vocab[piece])
                continue
            w = "".join(self.b2u[b] for b in piece.encode("utf-8"))
            ids.extend(self.vocab[s] for s in self.bpe(w))
        return ids

    def __call__(self, text, context_length):
        ids = [self.sot] + self.encode(text) + [self.eot]
        if len(ids) > context_length:
            ids = ids[:context_length - 1] + [self.eot]
        return ids + [0] * (context_length - len(ids))
