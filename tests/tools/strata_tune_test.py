"""strata-tune: a --sim run writes a tune file that the library loads and that changes what decides
the selection; the ping-pong fit recovers the preset's alpha and bandwidth; -np N runs on this
host over shared memory; bad arguments fail with exit 2 and a message naming them; the SVG plot
is well-formed XML with one path per candidate. One check per ctest (argv[3]).

argv: strata-tune, strata-info, check."""

import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

TUNE, INFO, WHAT = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []
tmp = tempfile.mkdtemp(prefix="strata_tune_test_")


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def env(**extra):
    e = {k: v for k, v in os.environ.items()
         if k not in ("STRATA_ALGO", "STRATA_TUNE_FILE", "STRATA_RANK", "STRATA_NRANKS",
                      "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS", "WORLD_SIZE")}
    e.update(extra)
    return e


def run(tool, *args, **extra):
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120, env=env(**extra))


def select_rows(out):
    """strata-info select's rows: size label -> (choice, source)."""
    table = {}
    for line in out.splitlines():
        m = re.match(r"^(\d+ [KMG]?i?B)\s+(\S+)\s+(tune string|tune file|model|fallback)\s", line)
        if m:
            table[m.group(1)] = (m.group(2), m.group(3))
    return table


if WHAT == "tune_file":
    out = os.path.join(tmp, "hccs8.json")
    r = run(TUNE, "--sim", "hccs-8", "-c", "allreduce,broadcast", "-b", "8", "-e", "64K", "-o", out)
    check(r.returncode == 0, f"--sim run exit {r.returncode}: {r.stderr[-2000:]}")
    f = json.load(open(out))
    check(f["version"] == 1 and f["topology"] == "hccs-8", "version 1, topology hccs-8")
    fp = re.search(r"fingerprint ([^;\s]+)", run(INFO, "select", "--topo", "hccs-8", "--coll",
                                             "allreduce").stdout).group(1)
    check(f["fingerprint"] == fp, f"fingerprint {f['fingerprint']} is the topology's {fp}")
    ar = [e for e in f["entries"] if e["collective"] == "allreduce"]
    check(len(ar) == 8, f"allreduce: one entry per size 8 B, 32 B, .. 32 KiB, 64 KiB: {len(ar)}")
    check(ar[0]["minBytes"] == 0 and ar[-1]["maxBytes"] == 65536, "from 0 to the largest size")
    for a, b in zip(ar, ar[1:]):
        check(b["minBytes"] == a["maxBytes"] + 1, f"contiguous, disjoint: {a} then {b}")
    for e in f["entries"]:
        check(e["ranks"] == 8 and e["timeUs"] > 0, f"ranks and time: {e}")
        check(e["dtype"] == ("32bit" if e["collective"] == "allreduce" else "any"),
              f"reductions per width, copies any: {e}")
    # Without the file the model decides; with it, the file does (within its range only).
    before = select_rows(run(INFO, "select", "--topo", "hccs-8", "--coll", "allreduce").stdout)
    after = select_rows(run(INFO, "select", "--topo", "hccs-8", "--coll", "allreduce",
                            STRATA_TUNE_FILE=out).stdout)
    check(before["1 KiB"][1] == "model", f"without the file: {before['1 KiB']}")
    check(after["1 KiB"][1] == "tune file", f"with the file, 1 KiB: {after['1 KiB']}")
    check(after["64 KiB"][1] == "tune file", f"with the file, 64 KiB: {after['64 KiB']}")
    check(after["1 MiB"][1] == "model", f"beyond the file's range: {after['1 MiB']}")
    # A communicator reads it too: the perf tool's rows carry the source.
    js = os.path.join(tmp, "perf.json")
    perf = os.path.join(os.path.dirname(INFO), "all_reduce_perf")
    r = run(perf, "--sim", "hccs-8", "-b", "1K", "-e", "1K", "-n", "1", "-w", "0", "-J", js,
            STRATA_TUNE_FILE=out)
    check(r.returncode == 0, f"all_reduce_perf with the file: {r.stderr[-2000:]}")
    text = open(js).read()
    check('"tune file"' in text, "all_reduce_perf's rows: algo_source tune file")

elif WHAT == "fit":
    # The sim times a message as alpha + bytes / bandwidth exactly (no port is slower than the
    # link on this preset), so the fit is exact up to floating-point rounding (seen: 1e-9
    # relative). A 1% tolerance leaves room for rounding only: taking the round trip for the
    # one-way time (100%), or losing alpha at 8 bytes (over 10%), is far outside it.
    out = os.path.join(tmp, "hccs2x8.json")
    r = run(TUNE, "--sim", "hccs-2x8", "-c", "allgather", "-b", "8", "-e", "1K", "-o", out)
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr[-2000:]}")
    topo = json.loads(run(INFO, "show", "hccs-2x8").stdout)
    levels = {l["level"]: l for l in json.load(open(out))["levels"]}
    check(sorted(levels) == [0, 1], f"both levels fitted: {sorted(levels)}")
    for i, spec in enumerate(topo["levels"]):
        got = levels.get(i)
        if not got:
            continue
        a, g = spec["link"]["alphaUs"], spec["link"]["gbps"]
        check(abs(got["alphaUs"] - a) <= 0.01 * a, f"level {i} alpha {got['alphaUs']} vs {a}")
        check(abs(got["gbps"] - g) <= 0.01 * g, f"level {i} gbps {got['gbps']} vs {g}")
        check(got["fitR2"] >= 0.999, f"level {i} R2 {got['fitR2']}")
    check(re.search(r"level 1 \(roce, ranks 0 and 8\)", r.stdout) is not None,
          "level 1 measured between ranks 0 and 8 (different servers)")

elif WHAT == "np":
    out = os.path.join(tmp, "local2.json")
    r = run(TUNE, "-np", "2", "-c", "allreduce", "-b", "8", "-e", "1K", "-r", "1",
            "--target-ms", "0.05", "--ping-max-bytes", "1M", "-o", out)
    check(r.returncode == 0, f"-np 2 exit {r.returncode}: {r.stderr[-2000:]}")
    f = json.load(open(out))
    check(len(f["entries"]) == 5 and all(e["ranks"] == 2 for e in f["entries"]),
          f"5 allreduce entries on 2 ranks: {f['entries']}")
    # Timing on a loaded host may defeat the fit (then the level is left out and says so).
    fitted = len(f["levels"]) == 1 and f["levels"][0]["gbps"] > 0
    check(fitted or re.search(r"level 0 \(shm, ranks 0 and 1\): (no fit|.*not written)", r.stdout),
          f"level 0 fitted or reported unfitted: {f['levels']}")
    # A departure from the model's choice is confirmed head to head after the sweep: the row
    # keeps it only if it won again, else records the model's choice.
    for m in re.finditer(r"^\s+(\d+)\s+(\S+)\s+[\d.]+\s+(\S+)\s.*confirm (\S+) [\d.]+ vs "
                         r"[\d.]+, (\d+)/(\d+) won: (kept|reverted)$", r.stdout, re.M):
        size, chosen, model, departed, verdict = m.group(1, 2, 3, 4, 7)
        check(departed != model, f"{size} B: confirmed {departed}, the model's own choice")
        check(chosen == (departed if verdict == "kept" else model),
              f"{size} B: {verdict} {departed} but the row chose {chosen} (model {model})")
    rows = select_rows(run(INFO, "select", "--topo", "local", "--ranks", "2", "--coll",
                           "allreduce", STRATA_TUNE_FILE=out).stdout)
    check(rows.get("512 B", ("", ""))[1] == "tune file", f"local, 2 ranks, 512 B: {rows.get('512 B')}")

elif WHAT == "bad_input":
    cases = [
        (["--sim", "hccs-8", "-c", "allreduce,nosuch"], r"--coll 'nosuch' is not a collective.*allreduce"),
        (["--sim", "hccs-8", "-b", "1M", "-e", "1K"], r"size range 1M to 1K is empty"),
        (["--sim", "hccs-8", "-b", "12Q"], r"--min-bytes '12Q' is not a size"),
        (["--sim", "hccs-8", "-o", "/nonexistent-dir/t.json"], r"--output '/nonexistent-dir/t.json' cannot be written"),
        (["--sim", "hccs-8", "--plot", "/nonexistent-dir/t.svg"], r"--plot '/nonexistent-dir/t.svg' cannot be written"),
        (["--sim", "nosuch-topology"], r"--sim nosuch-topology"),
        (["--sim", "hccs-8", "-d", "float,int32"], r"another type of 32 bits"),
        (["--sim", "hccs-8", "-f", "3"], r"--step"),
        (["--sim", "hccs-8", "--confirm-rounds", "-1"], r"--confirm-rounds"),
        (["-c", "allreduce"], r"no ranks to tune: run it with -np N"),
        (["-np", "1"], r"at least 2 ranks"),
    ]
    for args, pattern in cases:
        r = run(TUNE, *args, "-o", os.path.join(tmp, "never.json")) if "-o" not in args else run(TUNE, *args)
        check(r.returncode == 2, f"{args}: exit {r.returncode}")
        check(re.search(pattern, r.stderr) is not None, f"{args}: message {r.stderr!r}")
    check(not os.path.exists(os.path.join(tmp, "never.json")), "no file written on bad input")

elif WHAT == "svg":
    out, svg = os.path.join(tmp, "p.json"), os.path.join(tmp, "p.svg")
    r = run(TUNE, "--sim", "hccs-8", "-c", "allreduce,alltoall", "-b", "8", "-e", "1M", "-o", out,
            "--plot", svg)
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr[-2000:]}")
    root = ET.parse(svg).getroot()  # raises on malformed XML
    ns = "{http://www.w3.org/2000/svg}"
    check(root.tag == ns + "svg", f"root element {root.tag}")
    panels = {g.get("data-series"): g for g in root.iter(ns + "g") if g.get("class") == "panel"}
    check(sorted(panels) == ["allreduce float", "alltoall any"], f"panels {sorted(panels)}")
    # The candidates strata-info lists for the call on this topology: one path each.
    for series, coll in (("allreduce float", "allreduce"), ("alltoall any", "alltoall")):
        ex = run(INFO, "explain", "--topo", "hccs-8", "--coll", coll, "--bytes", "64K").stdout
        want = sorted(m.group(1) for m in re.finditer(r"^[ *] (\S+)\s+[\d.]+ [um]?s", ex, re.M))
        g = panels.get(series)
        if g is None:
            continue
        paths = [p for p in g.iter(ns + "path") if p.get("class") == "candidate"]
        got = sorted(p.get("data-algo") for p in paths)
        check(got == want and len(want) >= 2, f"{series}: candidate paths {got}, candidates {want}")
        env_paths = [p for p in g.iter(ns + "path") if p.get("class") == "envelope"]
        check(len(env_paths) == 1, f"{series}: one envelope")
        texts = [t.text for t in g.iter(ns + "text")]
        check("128B" in texts and "1M" in texts, f"{series}: x tick labels {texts}")
        check("busbw (GB/s)" in texts and "chosen" in texts, f"{series}: axis label and legend")
        for p in paths:
            check(re.fullmatch(r"M[\d. ML-]+", p.get("d").strip()) is not None, f"path data {p.get('d')[:40]}")

else:
    sys.exit(f"unknown check {WHAT}")

print(f"{WHAT}: {len(failures)} failed")
sys.exit(1 if failures else 0)
