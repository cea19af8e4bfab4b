"""strata-info: the catalogue from the registry, the selection map with every candidate's estimate,
the chosen one marked and the source (model, tune string, tune file), explain's line per candidate,
the topology subcommands strata-topo had, and bad input (unknown topology, collective, size,
dtype) failing with exit 2 and a message naming it. One subcommand per ctest (argv[2])."""

import json
import os
import re
import subprocess
import sys
import tempfile

TOOL, WHAT = sys.argv[1], sys.argv[2]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*args, env=None):
    e = {k: v for k, v in os.environ.items() if k not in ("STRATA_ALGO", "STRATA_TUNE_FILE")}
    e.update(env or {})
    return subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=120, env=e)


def rows(out):
    """select's rows: size label -> (choice, source, {candidate: marked})."""
    table = {}
    for line in out.splitlines():
        m = re.match(r"^(\d+ [KMG]?i?B)\s+(\S+)\s+(tune string|tune file|model|fallback)\s+(.*)$", line)
        if m:
            cands = {c.split()[0].rstrip("*"): c.split()[0].endswith("*") for c in m.group(4).split(", ")}
            table[m.group(1)] = (m.group(2), m.group(3), cands)
    return table


if WHAT == "algorithms":
    r = run("algorithms")
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
    names = {l.split()[0]: l for l in r.stdout.splitlines() if l and not l.startswith(" ")}
    for name in ("ring", "oneshot", "mesh", "chain", "pairwise", "dissemination", "hier"):
        check(name in names, f"{name} listed")
    check("allreduce" in names.get("oneshot", ""), "oneshot serves allreduce")
    check(re.search(r"^\s+allreduce: \S", r.stdout, re.M) is not None, "descriptions per collective")

elif WHAT == "select":
    r = run("select", "--topo", "hccs-8", "--coll", "allreduce")
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
    t = rows(r.stdout)
    check(len(t) == 28, f"8 B to 1 GiB in powers of 2: {len(t)} rows")
    check("8 B" in t and "1 GiB" in t, "first and last sizes")
    for size, (choice, source, cands) in t.items():
        check(source == "model", f"{size}: source {source}")
        check(cands.get(choice) is True and sum(cands.values()) == 1, f"{size}: one mark, on {choice}")
    check(t["16 KiB"][0] == "oneshot", "16 KiB on hccs-8: oneshot")
    check(t["64 MiB"][0] == "twoshot", "64 MiB on hccs-8: twoshot")
    check("fingerprint" in r.stdout, "the header names the fingerprint")
    r = run("select", "--topo", "hccs-2x8", "--coll", "allreduce", "--dtype", "bf16", "--step", "4")
    check(r.returncode == 0 and "bfloat16" in r.stdout, f"bf16 on hccs-2x8: {r.stderr}")
    t = rows(r.stdout)
    check(len(t) == 15 and "16 B" in t and "1 GiB" in t, f"--step 4: 8 B, then 16 B to 1 GiB: {sorted(t)}")
    check(t["64 MiB"][0] == "hier", "64 MiB on hccs-2x8: hier")
    # STRATA_ALGO and STRATA_TUNE_FILE are honoured and named.
    r = run("select", "--topo", "hccs-8", "--coll", "allreduce", env={"STRATA_ALGO": "allreduce:0-1k:@ring"})
    t = rows(r.stdout)
    check(t["8 B"][:2] == ("ring", "tune string") and t["2 KiB"][1] == "model", "tune string rows")
    fp = run("show", "hccs-8", "--fingerprint").stdout.strip()
    check(re.match(r"^8r-1l-[0-9a-f]{16}$", fp) is not None, f"fingerprint {fp!r}")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "tune.json")
        with open(path, "w") as f:
            json.dump({"version": 1, "fingerprint": fp, "entries": [
                {"collective": "allreduce", "minBytes": 8192, "maxBytes": 65536, "algorithm": "ring"}]}, f)
        r = run("select", "--topo", "hccs-8", "--coll", "allreduce", env={"STRATA_TUNE_FILE": path})
        t = rows(r.stdout)
        check(t["16 KiB"][:2] == ("ring", "tune file"), f"tune file row: {t.get('16 KiB')}")
        check(t["128 KiB"][1] == "model", "outside the entry: model")
        r = run("select", "--topo", "hccs-2x8", "--coll", "allreduce", env={"STRATA_TUNE_FILE": path})
        check(r.returncode == 0 and "refused" in r.stdout and fp in r.stdout, "another topology's file is refused")
        check(all(s != "tune file" for _, s, _ in rows(r.stdout).values()), "a refused file decides nothing")
    r = run("select", "--topo", "local", "--ranks", "4", "--coll", "allgather")
    check(r.returncode == 0 and "transport shm" in r.stdout and len(rows(r.stdout)) == 28, f"local: {r.stderr}")

elif WHAT == "explain":
    r = run("explain", "--coll", "allreduce", "--bytes", "16K", "--topo", "hccs-8")
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
    lines = r.stdout.splitlines()
    check("16384 bytes" in lines[0] and "oneshot by model" in lines[0], lines[0] if lines else "no output")
    cands = {l[2:].split()[0]: l for l in lines[1:]}
    check(set(cands) >= {"ring", "ringpipe", "oneshot"}, f"one line per allreduce algorithm: {sorted(cands)}")
    check(cands["oneshot"].startswith("*") and "chosen (model)" in cands["oneshot"], "oneshot marked")
    check(re.search(r"\d us", cands["ring"]) is not None, "ring's estimate")
    check("not a candidate" in cands["ringpipe"], "ringpipe does not run on the sim")

elif WHAT == "topology":
    r = run("presets")
    check(r.returncode == 0 and "hccs-2x8" in r.stdout and "cm384" in r.stdout, "presets")
    r = run("show", "hccs-2x8")
    check(r.returncode == 0 and json.loads(r.stdout)["ranks"] == 16, "show a preset as JSON")
    r = run("sim", "hccs-8", "allreduce", "--count", "4096")
    check(r.returncode == 0 and "oneshot by model" in r.stdout and "simulated time" in r.stdout, f"sim: {r.stdout}{r.stderr}")

elif WHAT == "bad_input":
    for args, needle in [
        (("select", "--topo", "nosuch", "--coll", "allreduce"), "--topo 'nosuch'"),
        (("select", "--topo", "hccs-8", "--coll", "allreduc"), "--coll 'allreduc' is not a collective (valid: allreduce"),
        (("select", "--topo", "hccs-8", "--coll", "allreduce", "--dtype", "float7"), "--dtype 'float7'"),
        (("explain", "--topo", "hccs-8", "--coll", "allreduce", "--bytes", "16Q"), "--bytes '16Q'"),
        (("explain", "--topo", "hccs-8", "--coll", "allreduce", "--bytes", "0"), "--bytes '0'"),
        (("explain", "--topo", "cm385", "--coll", "allreduce", "--bytes", "1K"), "--topo 'cm385'"),
    ]:
        r = run(*args)
        check(r.returncode == 2 and needle in r.stderr, f"{' '.join(args)}: exit {r.returncode}, {r.stderr!r}")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "tune.json")
        with open(path, "w") as f:
            f.write('{"version": 1, "fingerprint": "x", "entries": [{"collective": "allreduce", "algorithm": "nosuch"}]}')
        r = run("select", "--topo", "hccs-8", "--coll", "allreduce", env={"STRATA_TUNE_FILE": path})
        check(r.returncode == 2 and "/entries/0/algorithm" in r.stderr and path in r.stderr, f"bad tune file: {r.stderr!r}")
    r = run("frobnicate")
    check(r.returncode != 0, "unknown subcommand")

else:
    failures.append(f"unknown check {WHAT}")

print(f"strata-info {WHAT}: {len(failures)} failures")
sys.exit(1 if failures else 0)
