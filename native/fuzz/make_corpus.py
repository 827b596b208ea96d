#!/usr/bin/env python3
"""Regenerates the checked-in seed corpora of the fuzz harnesses.

    python3 native/fuzz/make_corpus.py [OUTPUT_DIR]

OUTPUT_DIR defaults to native/fuzz/corpus beside this script. Every file in
OUTPUT_DIR/<harness>/ is rewritten; files this script does not make are
removed from those folders. Standard library only, deterministic output.

fuzz_network inputs start with one control byte that the harness strips (see
fuzz_network.c): bits 0-1 pick the limits (0 small, 1 default, 2 tight, 3
unlimited), bit 2 makes the harness rewrite the CRC-32 of a v2 file, bits 3-6
tune the tight limits, bit 7 adds the NULL-status probe. The rest is the file.
fuzz_idx and fuzz_pgm inputs are plain files.
"""
import os
import random
import struct
import sys
import zlib

SEED_MAGIC = 7
V2_MAGIC = b"\x89HNN"

SMALL, DEFAULT, TIGHT, UNLIMITED = 0, 1, 2, 3
FIX_CRC = 4
NULL_PROBE = 128


def floats(rng, n):
    """n float32 values: mostly N(0,1), with zeros, -0.0, denormals, extremes."""
    special = [0.0, -0.0, 1.0, -1.0, 1.4e-45, -1.17549435e-38, 3.4028234e38, -2.5e-40]
    out = []
    for i in range(n):
        if i < len(special) and n > 2 * len(special):
            out.append(special[i])
        else:
            out.append(rng.gauss(0.0, 1.0))
    return struct.pack("<%df" % n, *out)


def parameter_count(sizes):
    return sum((sizes[l - 1] + 1) * sizes[l] for l in range(1, len(sizes)))


def params_blob(sizes, seed):
    return floats(random.Random(seed), parameter_count(sizes))


def seed_nn(hidden, seed=1):
    sizes = [784] + list(hidden) + [10]
    return bytes([SEED_MAGIC, len(hidden)]) + bytes(hidden) + params_blob(sizes, seed)


def v3_nn(sizes, acts, loss=0, flags=None, std=False, std_value=1.5, classes=None,
          state=None, state_len=None, cut=0, crc=None, seed=3):
    f = (1 if std else 0) | (2 if classes else 0) | (4 if state is not None else 0)
    head = V2_MAGIC + struct.pack("<HHII", 3, f if flags is None else flags, loss, len(sizes))
    head += b"".join(struct.pack("<I", s) for s in sizes) + bytes(acts)
    data = head + params_blob(sizes, seed)
    if std:
        data += struct.pack("<%df" % sizes[0], *([0.25] * sizes[0]))
        data += struct.pack("<%df" % sizes[0], *([std_value] * sizes[0]))
    if classes:
        data += b"".join(bytes([len(n)]) + n for n in classes)
    if state is not None:
        data += struct.pack("<I", len(state) if state_len is None else state_len) + state
    if cut:
        data = data[:-cut]
    return data + struct.pack("<I", zlib.crc32(data) if crc is None else crc)


def v2_nn(sizes, seed=1, version=2, flags=0, activation=0, count=None, body=None, crc=None):
    head = V2_MAGIC + struct.pack("<HHII", version, flags, activation,
                                  len(sizes) if count is None else count)
    head += b"".join(struct.pack("<I", s) for s in sizes)
    data = head + (params_blob(sizes, seed) if body is None else body)
    return data + struct.pack("<I", zlib.crc32(data) if crc is None else crc)


def network_corpus():
    c = {}
    nan = struct.pack("<f", float("nan"))
    inf = struct.pack("<f", float("inf"))
    # valid seed files (0 hidden layers is 31 KB: 784*10 weights)
    c["seed-784-10.nn"] = (SMALL, seed_nn([], 10))
    c["seed-784-1-10.nn"] = (DEFAULT, seed_nn([1], 11))
    c["seed-784-2-3-10.nn"] = (SMALL | NULL_PROBE, seed_nn([2, 3], 12))
    c["seed-784-1-1-1-10-unlimited.nn"] = (UNLIMITED, seed_nn([1, 1, 1], 13))
    c["seed-784-1-10-tight.nn"] = (TIGHT | (3 << 3), seed_nn([1], 14))
    # valid v2 files, with correct CRC (bit 2 clear) and with the CRC rewritten (bit 2 set)
    c["v2-1-1.nn"] = (SMALL, v2_nn([1, 1], 20))
    c["v2-1-1-fixcrc.nn"] = (SMALL | FIX_CRC, v2_nn([1, 1], 20, crc=0))
    c["v2-2-3-2.nn"] = (DEFAULT, v2_nn([2, 3, 2], 21))
    c["v2-3-4-4-2-fixcrc.nn"] = (UNLIMITED | FIX_CRC, v2_nn([3, 4, 4, 2], 22))
    c["v2-784-1-10.nn"] = (DEFAULT | NULL_PROBE, v2_nn([784, 1, 10], 23))  # also seed-encodable
    c["v2-1-300-1.nn"] = (SMALL, v2_nn([1, 300, 1], 24))  # layer > 255: not seed-encodable
    # 256 hidden layers: only unlimited max_layers reads it; the seed format cannot hold it
    c["v2-784-256x1-10-unlimited.nn"] = (UNLIMITED, v2_nn([784] + [1] * 256 + [10], 26))
    c["v2-1x9-layers.nn"] = (TIGHT | FIX_CRC | (5 << 3), v2_nn([1] * 9, 25))
    # invalid files
    good = seed_nn([1], 11)
    c["bad-empty"] = (DEFAULT, b"")
    c["bad-magic"] = (DEFAULT, b"\x08" + good[1:])
    c["bad-seed-truncated"] = (DEFAULT, good[:-1])
    c["bad-seed-extra-byte"] = (DEFAULT, good + b"\0")
    c["bad-seed-hidden-0"] = (DEFAULT, bytes([7, 1, 0]) + good[3:])
    c["bad-seed-lying-header"] = (SMALL, bytes([7, 200]) + bytes(range(1, 201)) + good[3:200])
    c["bad-seed-nan"] = (DEFAULT, good[:3] + nan + good[7:])
    c["bad-seed-header-only"] = (DEFAULT, bytes([7, 2, 5]))
    v = v2_nn([2, 3, 2], 21)
    c["bad-v2-crc"] = (DEFAULT, v[:-1] + bytes([v[-1] ^ 1]))
    c["bad-v2-truncated"] = (DEFAULT, v[:-5] + struct.pack("<I", zlib.crc32(v[:-5])))
    c["bad-v2-version-4"] = (DEFAULT, v2_nn([2, 3, 2], version=4))
    # v3 (issue 10): activations, loss, standardisation, class names, trainer state.
    c["v3-2-3-2.nn"] = (DEFAULT, v3_nn([2, 3, 2], [2, 4], loss=1))
    c["v3-3-4-3-std-fixcrc.nn"] = (SMALL | FIX_CRC, v3_nn([3, 4, 3], [1, 3], std=True))
    c["v3-2-2-classes.nn"] = (SMALL, v3_nn([2, 2], [4], loss=1, classes=[b"sun", b"r\xc3\xa4in"]))
    c["v3-1-1-state.nn"] = (UNLIMITED, v3_nn([1, 1], [3], std=True, state=b"HTS\x01" + b"\0" * 12))
    c["v3-1x5-tight.nn"] = (TIGHT | FIX_CRC | (3 << 3), v3_nn([1] * 5, [2, 1, 0, 3]))
    c["bad-v3-softmax-hidden"] = (SMALL | FIX_CRC, v3_nn([2, 3, 2], [4, 4]))
    c["bad-v3-ce-linear"] = (SMALL | FIX_CRC, v3_nn([2, 3, 2], [0, 3], loss=1))
    c["bad-v3-flags"] = (SMALL | FIX_CRC, v3_nn([2, 2], [0], flags=8))
    c["bad-v3-activation"] = (SMALL | FIX_CRC, v3_nn([2, 2], [9]))
    c["bad-v3-std-zero"] = (SMALL | FIX_CRC, v3_nn([1, 1], [3], std=True, std_value=0.0))
    c["bad-v3-class-utf8"] = (SMALL | FIX_CRC, v3_nn([2, 2], [0], classes=[b"a", b"\xc0\x80"]))
    c["bad-v3-class-cut"] = (SMALL | FIX_CRC, v3_nn([2, 2], [0], classes=[b"a", b"bc"], cut=1))
    c["bad-v3-state-lying"] = (SMALL | FIX_CRC, v3_nn([1, 1], [0], state=b"xy", state_len=1000))
    c["bad-v3-crc"] = (SMALL, v3_nn([2, 2], [0], crc=1))
    c["bad-v2-flags"] = (SMALL, v2_nn([2, 3, 2], flags=1))
    c["bad-v2-activation"] = (SMALL, v2_nn([2, 3, 2], activation=1))
    c["bad-v2-one-layer"] = (SMALL | FIX_CRC, v2_nn([5], body=b""))
    c["bad-v2-zero-size"] = (SMALL, v2_nn([2, 0, 2], body=b""))
    c["bad-v2-lying-count"] = (UNLIMITED, v2_nn([2, 2], count=0xFFFFFFF0, body=b""))
    c["bad-v2-huge-layers"] = (DEFAULT | FIX_CRC,
                               v2_nn([0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], body=b"\0" * 8))
    c["bad-v2-inf"] = (SMALL, v2_nn([1, 1], body=inf + b"\0\0\0\0"))
    c["bad-v2-short"] = (DEFAULT, V2_MAGIC + b"\x02\x00")
    c["bad-v2-magic-only"] = (DEFAULT, V2_MAGIC[:3])
    return {name: bytes([ctrl]) + data for name, (ctrl, data) in c.items()}


def idx_images(count, rows, cols, seed=1, pixels=None):
    rng = random.Random(seed)
    if pixels is None:
        pixels = bytes(rng.randrange(256) for _ in range(count * rows * cols))
    return struct.pack(">IIII", 0x803, count, rows, cols) + pixels


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


def idx_corpus():
    c = {}
    c["images-2x3x3.idx3"] = idx_images(2, 3, 3)
    c["images-1x28x28.idx3"] = idx_images(1, 28, 28, 2)
    c["images-0x28x28.idx3"] = idx_images(0, 28, 28)
    c["images-3x1x1.idx3"] = idx_images(3, 1, 1, 3)
    c["images-1x1x40.idx3"] = idx_images(1, 1, 40, 4)
    c["labels-5.idx1"] = idx_labels([0, 1, 2, 9, 5])
    c["labels-0.idx1"] = idx_labels([])
    c["labels-255.idx1"] = idx_labels([255, 10, 7])
    c["bad-images-truncated"] = idx_images(2, 3, 3)[:-1]
    c["bad-images-extra"] = idx_images(2, 3, 3) + b"\0"
    c["bad-images-lying-count"] = struct.pack(">IIII", 0x803, 0xFFFFFFFF, 28, 28) + b"\0" * 16
    c["bad-images-huge-dims"] = struct.pack(">IIII", 0x803, 1, 0xFFFFFFFF, 0xFFFFFFFF)
    c["bad-images-zero-rows"] = struct.pack(">IIII", 0x803, 1, 0, 28)
    c["bad-images-header-cut"] = idx_images(1, 2, 2)[:10]
    c["bad-labels-truncated"] = idx_labels([1, 2, 3])[:-1]
    c["bad-labels-lying-count"] = struct.pack(">II", 0x801, 0x7FFFFFFF) + b"\1\2"
    c["bad-type-float"] = struct.pack(">II", 0x0D01, 1) + b"\0\0\0\0"
    c["bad-gzip"] = b"\x1f\x8b\x08\x00" + b"\0" * 12
    c["bad-dims-2"] = struct.pack(">III", 0x802, 1, 1) + b"\0"
    return c


def pgm_corpus():
    rng = random.Random(7)
    c = {}

    def plain(w, h, maxval, values, head=None, sep=" ", per_line=None):
        head = head if head is not None else "P2\n%d %d\n%d\n" % (w, h, maxval)
        lines, row = [], []
        per_line = per_line or w
        for i, v in enumerate(values):
            row.append(str(v))
            if (i + 1) % per_line == 0:
                lines.append(sep.join(row))
                row = []
        if row:
            lines.append(sep.join(row))
        return (head + "\n".join(lines) + "\n").encode()

    def raw(w, h, maxval, values, head=None):
        head = head if head is not None else "P5\n%d %d\n%d\n" % (w, h, maxval)
        fmt = ">%dH" % len(values) if maxval > 255 else "%dB" % len(values)
        return head.encode() + struct.pack(fmt, *values)

    v3x2 = [0, 255, 128, 7, 64, 200]
    c["p2-3x2-comments.pgm"] = plain(3, 2, 255, v3x2,
                                     head="P2\n# made by make_corpus.py\n3 2 # size\n255\n")
    c["p2-28x28-seed-style.pgm"] = plain(28, 28, 255, [rng.randrange(256) for _ in range(784)],
                                         per_line=12)
    c["p2-2x2-maxval-65535.pgm"] = plain(2, 2, 65535, [0, 1, 65534, 65535])
    c["p2-1x1-maxval-1.pgm"] = plain(1, 1, 1, [1])
    c["p2-crlf-tabs.pgm"] = b"P2\r\n2\t2\r\n15\r\n0\t15\r\n7 8\r\n"
    c["p2-comment-after-magic.pgm"] = b"P2#comment\n1 2 9\n3 9"  # no final newline
    # A comment right after maxval: its line end is the one separator byte.
    c["p5-comment-after-maxval"] = b"P5 2 1 255#comment\n\xc8\x07"
    c["p5-4x4-255.pgm"] = raw(4, 4, 255, [rng.randrange(256) for _ in range(16)])
    c["p5-2x2-65535.pgm"] = raw(2, 2, 65535, [0, 256, 65535, 4660])
    c["p5-3x1-maxval-300.pgm"] = raw(3, 1, 300, [0, 299, 300])
    c["p5-2x1-comment-trailing-image.pgm"] = (b"P5 # c\n2 1\n255\n\x01\x02" +
                                             b"P5\n1 1\n255\n\x00")
    c["bad-pixel-above-maxval"] = plain(2, 1, 10, [3, 11])
    c["bad-p5-pixel-above-maxval"] = raw(2, 1, 300, [0, 301])
    c["bad-maxval-0"] = b"P2\n1 1\n0\n0\n"
    c["bad-maxval-65536"] = b"P5\n1 1\n65536\n\0\0"
    c["bad-p5-truncated"] = raw(4, 4, 255, list(range(16)))[:-1]
    c["bad-p2-truncated"] = plain(3, 2, 255, v3x2)[:-4]
    c["bad-p3"] = b"P3\n1 1\n255\n0 0 0\n"
    c["bad-width-0"] = b"P2\n0 1\n255\n"
    c["bad-lying-size"] = b"P5\n4294967295 4294967295\n255\n\0\0\0\0"
    c["bad-number-overflow"] = b"P2\n99999999999999999999 1\n255\n0\n"
    c["bad-no-space-after-magic"] = b"P21 1 255 0"
    c["bad-letter-in-pixels"] = b"P2 2 1 255 1x 2"
    c["bad-p5-no-raster"] = b"P5\n1 1\n255"
    return c


def write(root, harness, files):
    folder = os.path.join(root, harness)
    os.makedirs(folder, exist_ok=True)
    for old in os.listdir(folder):
        path = os.path.join(folder, old)
        if os.path.isfile(path) and old not in files:
            os.remove(path)
    for name, data in sorted(files.items()):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    print("%s: %d files, %d bytes" % (folder, len(files), sum(len(d) for d in files.values())))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus")
    write(root, "fuzz_network", network_corpus())
    write(root, "fuzz_idx", idx_corpus())
    write(root, "fuzz_pgm", pgm_corpus())


if __name__ == "__main__":
    main()
