#!/usr/bin/python3
"""Generates the Pillow parity fixtures of package imageio.

Run with Debian 12's Pillow 9.4.0 and numpy (the versions the official CLIP
fixtures were made with), libwebp's cwebp and libjpeg-turbo's cjpeg on the
PATH:

    cd imageio/testdata/pillow && /usr/bin/python3 gen.py

It writes small image files (some hand-made, to reach header variants
Pillow cannot write) and cases.json:

  decode:     per file, Pillow's mode, size and raw pixels (np.asarray, "1"
              as 0/255), its convert("RGB") bytes (unless the mode is
              RGB), and for files with an EXIF
              orientation the result of ImageOps.exif_transpose.
  preprocess: random images in every mode, resized, centre-cropped and
              converted exactly as the official pipeline does (Pillow's
              resize, crop offsets round half to even, padding outside),
              with every filter and several sizes; inputs come from an LCG
              that the Go test reproduces, only the RGB output is stored.
"""
import base64
import json
import struct
import subprocess
import zlib

import numpy as np
from PIL import Image, ImageOps

b64 = lambda b: base64.b64encode(bytes(b)).decode()


class LCG:
    """32-bit LCG (Numerical Recipes); imageio's Go test has the same."""

    def __init__(self, seed):
        self.s = seed & 0xFFFFFFFF

    def bytes(self, n):
        out = bytearray(n)
        s = self.s
        for i in range(n):
            s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
            out[i] = s >> 24
        self.s = s
        return bytes(out)


# ---------------------------------------------------------------- files

def chunk(typ, data):
    return struct.pack(">I", len(data)) + typ + data + struct.pack(">I", zlib.crc32(typ + data))


def png(w, h, depth, ctype, rows, extra=(), palette=None):
    """rows: list of packed scanlines without filter bytes."""
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
    if palette is not None:
        out += chunk(b"PLTE", bytes(palette))
    for typ, data in extra:
        out += chunk(typ, data)
    out += chunk(b"IDAT", zlib.compress(b"".join(b"\x00" + r for r in rows)))
    return out + chunk(b"IEND", b"")


def pack_bits(vals, depth):
    out, acc, n = bytearray(), 0, 0
    for v in vals:
        acc = (acc << depth) | v
        n += depth
        if n == 8:
            out.append(acc)
            acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)


def tiff_orientation(o, big_endian=False):
    e = ">" if big_endian else "<"
    bo = b"MM" if big_endian else b"II"
    return bo + struct.pack(e + "HI", 42, 8) + struct.pack(e + "H", 1) + struct.pack(e + "HHI", 0x0112, 3, 1) + struct.pack(e + "H", o) + b"\0\0" + struct.pack(e + "I", 0)


def gif(sw, sh, frames_spec, global_pal=None, trans=None):
    """One frame: (x, y, w, h, indices, local_pal). LZW codes are written
    without compression (a clear code before the table grows)."""
    def lzw(indices, min_size=8):
        clear, end = 1 << min_size, (1 << min_size) + 1
        width = min_size + 1
        codes = []
        for i, v in enumerate(indices):
            if i % 200 == 0:
                codes.append(clear)
            codes.append(v)
        codes.append(end)
        bits, acc, n = bytearray(), 0, 0
        for c in codes:
            acc |= c << n
            n += width
            while n >= 8:
                bits.append(acc & 0xFF)
                acc >>= 8
                n -= 8
        if n:
            bits.append(acc)
        out = bytes([min_size])
        for i in range(0, len(bits), 255):
            blk = bits[i:i + 255]
            out += bytes([len(blk)]) + blk
        return out + b"\0"

    flags = 0
    if global_pal is not None:
        flags = 0x80 | 0x70 | 7
    out = b"GIF89a" + struct.pack("<HHBBB", sw, sh, flags, 0, 0)
    if global_pal is not None:
        out += bytes(global_pal)
    if trans is not None:
        out += b"\x21\xf9\x04" + bytes([1, 0, 0, trans]) + b"\0"
    x, y, w, h, idx, local = frames_spec
    lflags = 0x80 | 7 if local is not None else 0
    out += b"\x2c" + struct.pack("<HHHHB", x, y, w, h, lflags)
    if local is not None:
        out += bytes(local)
    return out + lzw(idx) + b"\x3b"


def bmp32(w, h, pix_rgba, header):
    """32-bit BMP: header 40 (BI_RGB) or 124 (BI_BITFIELDS + alpha mask)."""
    rows = b"".join(bytes(pix_rgba[y * w * 4:(y + 1) * w * 4][i] for i in sum(([4 * x + 2, 4 * x + 1, 4 * x, 4 * x + 3] for x in range(w)), [])) for y in reversed(range(h)))
    if header == 40:
        info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 32, 0, len(rows), 2835, 2835, 0, 0)
    else:
        info = struct.pack("<IiiHHIIiiII", 124, w, h, 1, 32, 3, len(rows), 2835, 2835, 0, 0)
        info += struct.pack("<IIII", 0xFF0000, 0xFF00, 0xFF, 0xFF000000) + b"sRGB" + bytes(36) + bytes(12) + bytes(16)
    off = 14 + len(info)
    return b"BM" + struct.pack("<IHHI", off + len(rows), 0, 0, off) + info + rows


def webp_with_exif(vp8l_file, orientation):
    data = open(vp8l_file, "rb").read()
    assert data[12:16] == b"VP8L"
    n = struct.unpack("<I", data[16:20])[0]
    vp8l = data[12:20 + n + (n & 1)]
    im = Image.open(vp8l_file)
    w, h = im.size
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([0x08, 0, 0, 0]) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    exif = tiff_orientation(orientation, big_endian=True)
    exif_chunk = b"EXIF" + struct.pack("<I", len(exif)) + exif + (b"\0" if len(exif) & 1 else b"")
    body = b"WEBP" + vp8x + vp8l + exif_chunk
    return b"RIFF" + struct.pack("<I", len(body)) + body


def make_files():
    files = {}
    rnd = LCG(1)
    w, h = 13, 7
    grey = lambda d: [v % (1 << d) for v in rnd.bytes(w * h)]

    v = grey(1)
    files["png_grey1.png"] = png(w, h, 1, 0, [pack_bits(v[y * w:(y + 1) * w], 1) for y in range(h)])
    v = grey(2)
    files["png_grey2.png"] = png(w, h, 2, 0, [pack_bits(v[y * w:(y + 1) * w], 2) for y in range(h)])
    v = grey(4)
    files["png_grey4_trns.png"] = png(w, h, 4, 0, [pack_bits(v[y * w:(y + 1) * w], 4) for y in range(h)], [(b"tRNS", b"\0\x05")])
    v = rnd.bytes(w * h)
    files["png_grey8_trns.png"] = png(w, h, 8, 0, [v[y * w:(y + 1) * w] for y in range(h)], [(b"tRNS", b"\0" + bytes([v[3]]))])
    v = rnd.bytes(w * h * 3)
    files["png_rgb_trns.png"] = png(w, h, 8, 2, [v[y * w * 3:(y + 1) * w * 3] for y in range(h)], [(b"tRNS", b"\0" + bytes([v[0]]) + b"\0" + bytes([v[1]]) + b"\0" + bytes([v[2]]))])
    v = [x % 16 for x in rnd.bytes(w * h)]
    files["png_p4_trns.png"] = png(w, h, 4, 3, [pack_bits(v[y * w:(y + 1) * w], 4) for y in range(h)], [(b"tRNS", bytes([0, 128, 255, 7]))], palette=rnd.bytes(16 * 3))
    v = rnd.bytes(w * h * 2)
    files["png_la8.png"] = png(w, h, 8, 4, [v[y * w * 2:(y + 1) * w * 2] for y in range(h)])
    v = rnd.bytes(w * h * 4)
    files["png_la16.png"] = png(w, h, 16, 4, [v[y * w * 4:(y + 1) * w * 4] for y in range(h)])
    v = rnd.bytes(w * h * 6)
    files["png_rgb16.png"] = png(w, h, 16, 2, [v[y * w * 6:(y + 1) * w * 6] for y in range(h)])
    v = rnd.bytes(w * h * 8)
    files["png_rgba16.png"] = png(w, h, 16, 6, [v[y * w * 8:(y + 1) * w * 8] for y in range(h)])
    v = rnd.bytes(w * h * 4)
    files["png_rgba8.png"] = png(w, h, 8, 6, [v[y * w * 4:(y + 1) * w * 4] for y in range(h)])
    for o in range(1, 9):
        v = rnd.bytes(5 * 3 * 3)
        files[f"png_exif{o}.png"] = png(5, 3, 8, 2, [v[y * 15:(y + 1) * 15] for y in range(3)], [(b"eXIf", tiff_orientation(o, big_endian=o % 2 == 0))])

    pal = bytearray(rnd.bytes(768))
    pal[3 * 5:3 * 6] = bytes([10, 200, 30])
    idx = [x % 32 for x in rnd.bytes(w * h)]
    files["gif_trans.gif"] = gif(w, h, (0, 0, w, h, idx, None), global_pal=pal, trans=5)
    files["gif_local.gif"] = gif(w, h, (0, 0, w, h, idx, rnd.bytes(768)), global_pal=pal)
    ramp = bytes(i // 3 for i in range(768))
    files["gif_grey.gif"] = gif(w, h, (0, 0, w, h, list(rnd.bytes(w * h)), None), global_pal=ramp)
    files["gif_offset.gif"] = gif(20, 15, (3, 4, 10, 6, [x % 64 for x in rnd.bytes(60)], None), global_pal=pal, trans=2)

    arr = np.frombuffer(rnd.bytes(w * h), np.uint8).reshape(h, w)
    for mode in ("1", "L", "P", "RGB"):
        if mode == "1":
            im = Image.fromarray(arr > 127)
        elif mode == "L":
            im = Image.fromarray(arr, "L")
        elif mode == "P":
            im = Image.fromarray(arr % 40, "P")
            im.putpalette(rnd.bytes(120))
        else:
            im = Image.fromarray(np.frombuffer(rnd.bytes(w * h * 3), np.uint8).reshape(h, w, 3), "RGB")
        path = f"bmp_{mode.lower()}.bmp"
        im.save(path)
        files[path] = open(path, "rb").read()
    files["bmp_32_v3.bmp"] = bmp32(w, h, rnd.bytes(w * h * 4), 40)
    files["bmp_32_v5_alpha.bmp"] = bmp32(w, h, rnd.bytes(w * h * 4), 124)

    # WebP: smooth content with hard colour edges (lossy), odd and even sizes.
    def smooth(w, h, ch):
        y, x = np.mgrid[0:h, 0:w]
        a = np.stack([np.sin(x / 3.0 + c) * 80 + np.cos(y / 2.0 * (c + 1)) * 60 + 128 for c in range(ch)], -1)
        a += np.frombuffer(rnd.bytes(a.size), np.uint8).reshape(a.shape) % 60 - 30
        a[:, w // 2:, 0] = 255 - a[:, w // 2:, 0]
        return np.clip(a, 0, 255).astype(np.uint8)
    Image.fromarray(smooth(37, 23, 3), "RGB").save("/tmp/imageio_odd.png")
    Image.fromarray(smooth(36, 24, 3), "RGB").save("/tmp/imageio_even.png")
    a = smooth(29, 18, 4)
    a[..., 3] = np.clip(np.mgrid[0:18, 0:29][1] * 9, 0, 255)
    a[:4, :, 3] = 0
    Image.fromarray(a, "RGBA").save("/tmp/imageio_alpha.png")
    for name, src, args in [
        ("webp_lossy_odd.webp", "odd", ["-q", "70"]),
        ("webp_lossy_even.webp", "even", ["-q", "70"]),
        ("webp_lossy_alpha.webp", "alpha", ["-q", "70"]),
        ("webp_lossless.webp", "odd", ["-lossless"]),
        ("webp_lossless_alpha.webp", "alpha", ["-lossless"]),
    ]:
        subprocess.run(["cwebp", "-quiet", *args, f"/tmp/imageio_{src}.png", "-o", name], check=True)
        files[name] = open(name, "rb").read()
    files["webp_exif3.webp"] = webp_with_exif("webp_lossless.webp", 3)

    # JPEG made of flat 8x8 (luma) and 16x16 (MCU) blocks: every block is
    # DC only, where Go's and libjpeg's inverse DCTs agree, so the decode
    # tests chroma upsampling and colour conversion exactly.
    blocks = np.frombuffer(rnd.bytes(2 * 3 * 3), np.uint8).reshape(2, 3, 3)
    flat = np.repeat(np.repeat(blocks, 16, 0), 16, 1)[:27, :45]
    Image.fromarray(np.ascontiguousarray(flat), "RGB").save("/tmp/imageio_flat.ppm")
    Image.fromarray(np.ascontiguousarray(flat[..., 1]), "L").save("/tmp/imageio_flat.pgm")
    for s in ("2x2", "2x1", "1x2", "1x1", "4x1"):
        name = f"jpeg_flat_{s}.jpg"
        subprocess.run(["cjpeg", "-quality", "100", "-sample", s, "-outfile", name, "/tmp/imageio_flat.ppm"], check=True)
        files[name] = open(name, "rb").read()
    subprocess.run(["cjpeg", "-quality", "100", "-progressive", "-sample", "2x2", "-outfile", "jpeg_flat_progressive.jpg", "/tmp/imageio_flat.ppm"], check=True)
    files["jpeg_flat_progressive.jpg"] = open("jpeg_flat_progressive.jpg", "rb").read()
    subprocess.run(["cjpeg", "-quality", "100", "-grayscale", "-outfile", "jpeg_flat_grey.jpg", "/tmp/imageio_flat.pgm"], check=True)
    files["jpeg_flat_grey.jpg"] = open("jpeg_flat_grey.jpg", "rb").read()
    j = open("jpeg_flat_2x2.jpg", "rb").read()
    exif = b"Exif\0\0" + tiff_orientation(8)
    files["jpeg_exif8.jpg"] = j[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + j[2:]
    return files


def raw(im):
    a = np.asarray(im)
    if im.mode == "1":
        a = a.astype(np.uint8) * 255
    return a.tobytes()


def decode_cases(files):
    cases = []
    for name in sorted(files):
        with open(name, "wb") as f:
            f.write(files[name])
        im = Image.open(name)
        im.load()
        c = {"file": name, "mode": im.mode, "w": im.size[0], "h": im.size[1], "pix": b64(raw(im))}
        if im.mode != "RGB":
            c["rgb"] = b64(im.convert("RGB").tobytes())
        o = im.getexif().get(0x0112)
        if o:
            t = ImageOps.exif_transpose(im)
            c.update(orientation=o, tw=t.size[0], th=t.size[1], tpix=b64(raw(t)))
        cases.append(c)
    return cases


# ---------------------------------------------------------------- preprocess

def official(im, size, crop, resample):
    """torchvision Resize(size, resample) + CenterCrop(crop) + convert("RGB")."""
    w, h = im.size
    if w <= h:
        nw, nh = size, size * h // w
    else:
        nw, nh = size * w // h, size
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), resample)
    left = -((crop - nw) // 2) if crop > nw else round((nw - crop) / 2)
    top = -((crop - nh) // 2) if crop > nh else round((nh - crop) / 2)
    # Pillow's crop pads with zeros outside the image, as torchvision's
    # CenterCrop pads (palette index 0 for "P").
    return im.crop((left, top, left + crop, top + crop)).convert("RGB")


def preprocess_cases():
    cases = []
    rnd = LCG(12345)
    modes = ["RGB", "RGBA", "L", "LA", "P", "1", "CMYK"]
    sizes = [(1, 1), (2, 3), (5, 4), (17, 9), (31, 40), (64, 23), (90, 61), (7, 120)]
    k = 0
    for mode in modes:
        for resample in (0, 1, 2, 3, 4, 5):
            for _ in range(2):
                w, h = sizes[k % len(sizes)]
                size = [1, 3, 8, 12, 16, 40][(k * 7) % 6]
                crop = min([size, max(1, size - 3), size + 4][k % 3], 16)
                k += 1
                seed = 1000 + k
                g = LCG(seed)
                ch = {"1": 1, "L": 1, "P": 1, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4}[mode]
                data = g.bytes(w * h * ch)
                if mode == "1":
                    im = Image.fromarray(np.frombuffer(data, np.uint8).reshape(h, w) > 127)
                elif mode == "P":
                    im = Image.frombytes("L", (w, h), data).point(lambda v: v % 50)
                    im = Image.frombytes("P", (w, h), im.tobytes())
                    im.putpalette(g.bytes(150))
                else:
                    im = Image.frombytes(mode, (w, h), data)
                out = official(im, size, crop, resample)
                cases.append({"mode": mode, "w": w, "h": h, "seed": seed, "size": size, "crop": crop,
                              "resample": resample, "rgb": b64(out.tobytes())})
    return cases


if __name__ == "__main__":
    files = make_files()
    doc = {
        "generator": "gen.py with Pillow " + Image.__version__ + ", numpy " + np.__version__,
        "decode": decode_cases(files),
        "preprocess": preprocess_cases(),
    }
    with open("cases.json", "w") as f:
        json.dump(doc, f, indent=0)
