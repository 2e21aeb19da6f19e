#!/usr/bin/env python3
"""Ring interoperability between paco and OpenStack Swift.

Run with the conformance venv's Python (Swift 2.38.3 importable):

    .venv-conformance/bin/python scripts/ring_interop.py --paco target/debug/paco

Checks, for thousands of names each, that paco and Swift's own Ring give
the same partition, the same primary devices and the same handoff devices
in the same order:
  * rings built by the real swift-ring-builder (format v1 and v2, several
    regions and zones, uneven weights, part power 10 and 17 -- the latter
    makes the handoff walk step over partitions);
  * a 2.5-replica ring (short last row) and a ring with a removed device
    (a null slot in the device list);
  * a v2 ring with 4-byte device ids written by Swift;
  * rings built and written by paco (v1 and v2), loaded by Swift;
  * Swift rings rewritten by `paco ring convert`, loaded by Swift.
Exits 0 when every check passes; prints one line per check and a closing
'N passed, N failed' line.
"""

import argparse
import array
import json
import os
import random
import subprocess
import sys
import tempfile

from swift.common import utils

PREFIX, SUFFIX = "interop-pre", "interop-suf"
utils.HASH_PATH_PREFIX = PREFIX.encode()
utils.HASH_PATH_SUFFIX = SUFFIX.encode()

from swift.common.ring import Ring, RingData  # noqa: E402

NAMES = 3000


def names(seed, n=NAMES):
    rng = random.Random(seed)
    alphabet = "abcxyz019-_.~ é中"
    out = []
    for i in range(n):
        word = lambda k: "".join(rng.choice(alphabet) for _ in range(rng.randint(1, k)))
        a = "AUTH_" + word(12)
        kind = i % 3
        if kind == 0:
            out.append((a, None, None))
        elif kind == 1:
            out.append((a, word(20), None))
        else:
            obj = "/".join(word(10) for _ in range(rng.randint(1, 3)))
            out.append((a, word(20), obj))
    return out


def swift_lookups(ring_path, sample):
    ring = Ring(ring_path)
    out = []
    for a, c, o in sample:
        part, nodes = ring.get_nodes(a, c, o)
        out.append((part, [n["id"] for n in nodes],
                    [n["id"] for n in ring.get_more_nodes(part)]))
    return out


def paco_lookups(paco, ring_path, sample, swift_conf):
    lines = "\n".join("/".join(x for x in name if x is not None) for name in sample)
    res = subprocess.run(
        [paco, "ring", "get", ring_path, "--batch", "--all-handoffs",
         "--swift-conf", swift_conf],
        input=lines.encode() + b"\n", capture_output=True, check=True)
    out = []
    for line in res.stdout.decode().splitlines():
        v = json.loads(line)
        out.append((v["partition"], [d["id"] for d in v["primaries"]],
                    [d["id"] for d in v["handoffs"]]))
    return out


class Checker:
    def __init__(self, paco, work):
        self.paco, self.work = paco, work
        self.passed = self.failed = 0
        self.swift_conf = os.path.join(work, "swift.conf")
        with open(self.swift_conf, "w") as f:
            f.write("[swift-hash]\nswift_hash_path_prefix = %s\n"
                    "swift_hash_path_suffix = %s\n" % (PREFIX, SUFFIX))

    def compare(self, label, ring_path, expect_path=None, seed=0):
        """paco on ring_path vs Swift on expect_path (default: the same file)."""
        sample = names(seed)
        want = swift_lookups(expect_path or ring_path, sample)
        got = paco_lookups(self.paco, ring_path, sample, self.swift_conf)
        bad = [(n, w, g) for n, w, g in zip(sample, want, got) if w != g]
        if len(got) != len(want):
            bad.append(("count", len(want), len(got)))
        handoffs = sum(len(w[2]) for w in want)
        if bad:
            self.failed += 1
            print("FAIL %s: %d of %d names differ, e.g. %r" % (label, len(bad), len(sample), bad[:2]))
        else:
            self.passed += 1
            print("ok   %s: %d names, %d handoffs agree" % (label, len(sample), handoffs))

    def swift_also_reads(self, label, paco_ring, reference):
        """Swift's lookups on a paco-written file equal Swift's on the reference."""
        sample = names(7)
        a, b = swift_lookups(paco_ring, sample), swift_lookups(reference, sample)
        if a == b:
            self.passed += 1
            print("ok   %s: Swift reads paco's file with identical lookups" % label)
        else:
            self.failed += 1
            print("FAIL %s: Swift's lookups differ on paco's file" % label)

    def run(self, *args):
        return subprocess.run(args, check=True, capture_output=True, cwd=self.work)

    def swift_builder(self, name, part_power, devices, replicas="3"):
        builder = os.path.join(self.work, name + ".builder")
        srb = os.path.join(os.path.dirname(sys.executable), "swift-ring-builder")
        self.run(srb, builder, "create", str(part_power), replicas, "1")
        for spec, weight in devices:
            self.run(srb, builder, "add", spec, str(weight))
        # swift-ring-builder exits 1 for warnings (e.g. balance); check the file instead.
        subprocess.run([srb, builder, "rebalance"], capture_output=True, cwd=self.work)
        v1, v2 = (os.path.join(self.work, "%s-v%d.ring.gz" % (name, v)) for v in (1, 2))
        for path, fv in ((v1, 1), (v2, 2)):
            subprocess.run([srb, builder, "write_ring", "--format-version", str(fv)],
                           capture_output=True, cwd=self.work)
            os.rename(os.path.join(self.work, name + ".ring.gz"), path)
            assert RingData.load(path).format_version == fv
        return v1, v2


def topology():
    devs = []
    port = 6200
    for r, zones in ((1, 3), (2, 2)):
        for z in range(1, zones + 1):
            for s in range(1, 3):
                for d, w in (("sda", 100), ("sdb", 50 + 30 * (s + z + r))):
                    devs.append(("r%dz%d-10.%d.%d.%d:%d/%s" % (r, z, r, z, s, port, d), w))
    devs.append(("r3z1-10.3.1.1:6200/sda", 10))
    return devs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paco", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="paco-ring-interop.") as work:
        c = Checker(os.path.abspath(args.paco), work)
        for name, pp in (("small", 10), ("wide", 17)):
            v1, v2 = c.swift_builder(name, pp, topology())
            c.compare("swift-ring-builder %s v1 (part power %d)" % (name, pp), v1, seed=pp)
            c.compare("swift-ring-builder %s v2 (part power %d)" % (name, pp), v2, seed=pp + 1)
            conv = os.path.join(work, name + "-paco-v2.ring.gz")
            c.run(c.paco, "ring", "convert", v1, conv, "--format-version", "2")
            c.swift_also_reads("paco convert of %s v1 to v2" % name, conv, v1)
            conv1 = os.path.join(work, name + "-paco-v1.ring.gz")
            c.run(c.paco, "ring", "convert", v2, conv1, "--format-version", "1")
            c.swift_also_reads("paco convert of %s v2 to v1" % name, conv1, v2)

        # Fractional replicas: the last replica row is short.
        v1, v2 = c.swift_builder("frac", 10, topology(), replicas="2.5")
        if abs(RingData.load(v2).replica_count - 2.5) < 1e-9:
            c.compare("swift-ring-builder 2.5 replicas v1", v1, seed=25)
            c.compare("swift-ring-builder 2.5 replicas v2", v2, seed=26)
        else:
            c.failed += 1
            print("FAIL swift-ring-builder did not make a 2.5-replica ring")

        # A ring with a removed device (a null hole in the device list).
        srb = os.path.join(os.path.dirname(sys.executable), "swift-ring-builder")
        builder = os.path.join(work, "small.builder")
        c.run(srb, builder, "remove", "d3")
        c.run(srb, builder, "pretend_min_part_hours_passed")
        subprocess.run([srb, builder, "rebalance"], capture_output=True, cwd=work)
        subprocess.run([srb, builder, "write_ring", "--format-version", "2"],
                       capture_output=True, cwd=work)
        holed = os.path.join(work, "small.ring.gz")
        if RingData.load(holed).devs[3] is None:
            c.compare("swift-ring-builder ring with a removed device", holed, seed=33)
        else:
            c.failed += 1
            print("FAIL swift-ring-builder did not leave a hole for d3")

        # 4-byte device ids (v2 only), written by Swift itself.
        rd = RingData.load(os.path.join(work, "small-v2.ring.gz"))
        rows = [array.array("I", row) for row in rd._replica2part2dev_id]
        wide = RingData(rows, rd.devs, rd._part_shift, version=rd.version)
        four = os.path.join(work, "four-byte.ring.gz")
        wide.save(four, format_version=2)
        assert RingData.load(four).dev_id_bytes == 4
        c.compare("Swift v2 ring with 4-byte device ids", four, seed=4)
        four_paco = os.path.join(work, "four-byte-paco.ring.gz")
        c.run(c.paco, "ring", "convert", four, four_paco, "--format-version", "2")
        if RingData.load(four_paco).dev_id_bytes == 4:
            c.swift_also_reads("paco rewrite of a 4-byte ring", four_paco, four)
        else:
            c.failed += 1
            print("FAIL paco rewrite of a 4-byte ring lost its id width")

        # Rings built by paco, read by Swift.
        pb = os.path.join(work, "paco.builder")
        c.run(c.paco, "ring", "-b", pb, "create", "12", "3", "1")
        for spec, weight in topology():
            c.run(c.paco, "ring", "-b", pb, "add", spec, str(weight))
        c.run(c.paco, "ring", "-b", pb, "rebalance")
        for fv in (1, 2):
            out = os.path.join(work, "paco-built-v%d.ring.gz" % fv)
            c.run(c.paco, "ring", "-b", pb, "write_ring", "-o", out, "--format-version", str(fv))
            rd = RingData.load(out)
            ok = rd.format_version == fv and len(rd._replica2part2dev_id) == 3
            if not ok:
                c.failed += 1
                print("FAIL Swift could not read paco's v%d ring properly" % fv)
            c.compare("paco-built ring v%d, Swift's lookups" % fv, out, seed=20 + fv)

        print("ring interop: %d passed, %d failed" % (c.passed, c.failed))
        print("%d passed, %d failed" % (c.passed, c.failed))
        return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
