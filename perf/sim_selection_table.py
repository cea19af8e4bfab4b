#!/usr/bin/python3
"""The default selection against every pinned candidate on the sim presets.

For each preset, collective and size (8 B, then every power of 4 from 16 B to 64 MiB, the size as
nccl-tests counts it), runs the collective in timing-only mode on the sim (strataSimTimingOnly,
the sim's link model walked over every rank's plan) once with the default selection and once
pinned (STRATA_ALGO, through strataConfig_t.algo) to every algorithm of the catalogue that is
eligible for the call, and prints: preset, collective, size, the default algorithm and its
simulated time, the best pinned algorithm and its time, and their ratio. Simulated time is
deterministic, so one run of each is the measurement.

    PYTHONPATH=build/python /usr/bin/python3 perf/sim_selection_table.py [--presets hccs-8,...]
        [--colls allreduce,...] [--max-bytes 64M] [--markdown] [--all]

Exits 1 when a default is more than --tolerance (5%) slower than the best pinned candidate.
"""
import argparse
import os
import re
import subprocess
import sys

# The default must be the library's own choice: no tune string or tune file from the caller's
# environment (pinned runs pass theirs through the config).
os.environ.pop("STRATA_ALGO", None)
os.environ.pop("STRATA_TUNE_FILE", None)

import strata  # noqa: E402

PRESETS = ["hccs-8", "hccs-2x8", "cm384"]
COLLS = ["allreduce", "allgather", "reducescatter", "broadcast", "alltoall"]
PER_RANK = {"allgather", "reducescatter", "alltoall"}


def parse_size(text):
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size '{text}' (e.g. 8, 64k, 64M)")
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]


def size_label(b):
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if b >= 1 << shift and b % (1 << shift) == 0:
            return f"{b >> shift} {unit}"
    return f"{b} B"


def sizes(max_bytes):
    out = [8]
    b = 16
    while b <= max_bytes:
        out.append(b)
        b *= 4
    return out


def catalogue(info):
    """Algorithm names per collective, from `strata-info algorithms` (the registry)."""
    text = subprocess.run([info, "algorithms"], check=True, capture_output=True, text=True).stdout
    out = {}
    for line in text.splitlines():
        if not line or line[0].isspace():
            continue
        name, colls = line.split(None, 1)
        for c in colls.split(","):
            out.setdefault(c.strip(), []).append(name)
    return out


def call(coll, size, n):
    """float32 (uint8 where one float32 per rank would exceed the size), at least one element per
    rank: the golden selections' convention (tests/unit/golden_selection_test.cc)."""
    per = size // n if coll in PER_RANK else size
    dtype = "float32" if per >= 4 else "uint8"
    return max(1, per // (4 if dtype == "float32" else 1)), dtype


def simulate(preset, coll, count, dtype, algo=None):
    cfg = strata.Config(topo_file=preset, algo=f"{coll}:@{algo}" if algo else None)
    r = strata.sim_timing_only(coll, count, dtype, config=cfg)
    return r["algo"], r["sim_time_us"]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--colls", default=",".join(COLLS))
    ap.add_argument("--max-bytes", type=parse_size, default=64 << 20)
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--markdown", action="store_true", help="a Markdown table")
    ap.add_argument("--all", action="store_true", help="also every pinned candidate's time")
    ap.add_argument("--info", default=os.path.join(here, "..", "build", "bin", "strata-info"))
    a = ap.parse_args()
    algos = catalogue(a.info)
    cols = ["preset", "collective", "size", "default", "time us", "best pinned", "time us", "ratio"]
    if a.all:
        cols.append("candidates (us)")
    if a.markdown:
        print("| " + " | ".join(cols) + " |")
        print("|" + "---|" * len(cols))
    else:
        print("%-9s %-13s %-8s %-9s %12s %-11s %12s %6s%s" % (*cols[:8], "  " + cols[8] if a.all else ""))
    misses = 0
    for preset in a.presets.split(","):
        n = strata.topology_rank_count(preset)
        for coll in a.colls.split(","):
            for size in sizes(a.max_bytes):
                count, dtype = call(coll, size, n)
                default, t_default = simulate(preset, coll, count, dtype)
                pinned = []
                for algo in algos.get(coll, []):
                    try:
                        _, t = simulate(preset, coll, count, dtype, algo)
                    except strata.InvalidArgumentError as e:
                        if "does not support" in str(e):
                            continue  # not eligible for this call (windowed only, forwarding only)
                        raise
                    pinned.append((t, algo))
                best_t, best = min(pinned)
                ratio = t_default / best_t if best_t > 0 else 1.0
                miss = ratio > 1 + a.tolerance
                misses += miss
                row = [preset, coll, size_label(size), default, "%.3f" % t_default, best,
                       "%.3f" % best_t, "%.3f" % ratio + (" !" if miss else "")]
                if a.all:
                    row.append(", ".join("%s %.3f" % (al, t) for t, al in pinned))
                if a.markdown:
                    print("| " + " | ".join(row) + " |")
                else:
                    print("%-9s %-13s %-8s %-9s %12s %-11s %12s %6s%s" % (*row[:8], "  " + row[8] if a.all else ""))
                sys.stdout.flush()
    print(f"{misses} of the rows more than {a.tolerance:.0%} slower than the best pinned candidate")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
