#!/usr/bin/python3
"""Compares the C++ loader's decoded split (read from its cache file, format
in split_cache.h) with the MambaPEFT pipeline done in Python with Pillow:
Image.open -> RGB -> resize((S, S), BICUBIC) -> (x - mean) / std, CHW.
Exit 0 when every value is identical, 1 otherwise.

    pil_parity.py CACHE_FILE TASK_DIR SPLIT
"""
import struct
import sys

import numpy as np
from PIL import Image

MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)


def main(cache_file, task_dir, split):
    data = open(cache_file, "rb").read()
    if data[:8] != b"PSSPLIT1":
        sys.exit(f"{cache_file}: not a split cache file")
    n, = struct.unpack("<q", data[16:24])
    s, = struct.unpack("<i", data[24:28])
    labels = np.frombuffer(data, np.int64, n, 28)
    images = np.frombuffer(data, np.float32, n * 3 * s * s, 28 + 8 * n).reshape(n, 3, s, s)
    lines = [l for l in open(f"{task_dir}/{split}.txt").read().split("\n") if l]
    assert len(lines) == n, (len(lines), n)
    worst = 0.0
    for i, line in enumerate(lines):
        path, label = line.rsplit(" ", 1)
        assert int(label) == labels[i], (i, label, labels[i])
        im = Image.open(f"{task_dir}/{path}").convert("RGB").resize((s, s), Image.BICUBIC)
        ref = ((np.asarray(im, np.float32) - MEAN) / STD).transpose(2, 0, 1)
        worst = max(worst, float(np.abs(ref - images[i]).max()))
    print(f"{task_dir} {split}: {n} images at {s}px, max |C++ - Pillow| = {worst}")
    return 0 if worst == 0.0 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
