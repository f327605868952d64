#!/usr/bin/python3
"""Writes resize_golden.txt: Pillow's Image.resize(BICUBIC) outputs that
resize_test.cc must reproduce bit for bit. Inputs come from a tiny LCG that
the C++ test re-implements, so only outputs are stored.

Run: /usr/bin/python3 worker/data/testdata/make_resize_golden.py > worker/data/testdata/resize_golden.txt
"""
import sys

import PIL
from PIL import Image

# (in_w, in_h, out_w, out_h, seed, pattern): downscale, upscale, mixed, and a
# hard-edged pattern whose overshoot exercises the 0/255 clipping.
CASES = [
    (7, 5, 3, 4, 1, "noise"),
    (5, 6, 11, 9, 2, "noise"),
    (37, 23, 8, 8, 3, "noise"),
    (13, 9, 32, 32, 4, "noise"),
    (64, 48, 32, 32, 5, "noise"),
    (20, 20, 7, 31, 6, "checker"),
    (28, 28, 32, 32, 7, "checker"),
    (8, 8, 8, 3, 8, "noise"),
]


def pixels(w, h, seed, pattern):
    state = seed
    out = bytearray()
    for y in range(h):
        for x in range(w):
            for c in range(3):
                state = (state * 1103515245 + 12345) % (1 << 31)
                if pattern == "noise":
                    out.append((state >> 16) & 255)
                else:
                    out.append(255 if ((x // 2 + y // 3 + c) % 2) else 0)
    return bytes(out)


def main():
    print(f"# Pillow {PIL.__version__} Image.resize(BICUBIC); see make_resize_golden.py")
    for w, h, ow, oh, seed, pattern in CASES:
        img = Image.frombytes("RGB", (w, h), pixels(w, h, seed, pattern))
        out = img.resize((ow, oh), Image.BICUBIC).tobytes()
        print(w, h, ow, oh, seed, pattern)
        print(" ".join(str(b) for b in out))


if __name__ == "__main__":
    sys.exit(main())
