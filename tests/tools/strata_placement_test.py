"""strata-placement reads a per-expert load vector from JSON or CSV, writes an EPLB placement as
JSON (every expert in a slot, hot experts replicated) and reports max/mean rank load before and
after; bad input fails with a message naming the file and line."""

import json
import os
import re
import subprocess
import sys
import tempfile

TOOL = sys.argv[1]
failures = []
checks = [0]


def check(cond, what):
    checks[0] += 1
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=30)


with tempfile.TemporaryDirectory() as d:
    experts, ranks = 64, 8
    load = [1000.0 / (e + 1) ** 1.2 for e in range(experts)]  # Zipf(1.2)
    paths = {
        "array.json": json.dumps(load),
        "object.json": json.dumps({"expert_load": load}),
        "list.csv": "load\n" + "\n".join(",".join(f"{v!r}" for v in load[i:i + 8])
                                       for i in range(0, experts, 8)) + "\n",
        "pairs.csv": "expert,load\n" + "\n".join(f"{e},{v!r}" for e, v in reversed(list(enumerate(load)))) + "\n",
    }
    outputs = []
    for name, text in paths.items():
        p = os.path.join(d, name)
        with open(p, "w") as f:
            f.write(text)
        out = os.path.join(d, name + ".placement.json")
        r = run(p, "--ranks", str(ranks), "-o", out)
        check(r.returncode == 0, f"{name}: exit {r.returncode}: {r.stderr}")
        if r.returncode != 0:
            continue
        before = float(re.search(r"max/mean rank load before ([0-9.]+)", r.stdout).group(1))
        after = float(re.search(r"max/mean rank load after +([0-9.]+)", r.stdout).group(1))
        with open(out) as f:
            pl = json.load(f)
        outputs.append(pl["slot_expert"])
        check(pl["slots_per_rank"] == experts // ranks + 1, f"{name}: default slots per rank")
        check(len(pl["slot_expert"]) == ranks * pl["slots_per_rank"], f"{name}: slot count")
        check(set(pl["slot_expert"]) == set(range(experts)), f"{name}: every expert placed")
        check(before > 3 and after <= 1.15, f"{name}: max/mean {before} -> {after}")
        check(abs(pl["max_mean_after"] - after) < 1e-3, f"{name}: JSON and report agree")
        loads = pl["rank_load_after"]
        check(abs(max(loads) / (sum(loads) / len(loads)) - after) < 1e-3, f"{name}: rank loads")
    check(len(outputs) == 4 and all(o == outputs[0] for o in outputs),
          "JSON, CSV list and CSV pairs give the same placement")

    # stdout carries the JSON when no -o is given; the report goes to stderr.
    r = run(os.path.join(d, "array.json"), "-r", "4", "-s", "20")
    check(r.returncode == 0 and json.loads(r.stdout)["slots_per_rank"] == 20, "JSON on stdout")
    check("max/mean rank load after" in r.stderr, "report on stderr")

    bad = os.path.join(d, "bad.csv")
    with open(bad, "w") as f:
        f.write("1,2,3\n4,x,6\n")
    r = run(bad, "-r", "2")
    check(r.returncode == 1 and "bad.csv:2" in r.stderr, f"bad CSV named: {r.stderr}")
    r = run(os.path.join(d, "missing.json"), "-r", "2")
    check(r.returncode == 1 and "cannot open" in r.stderr, f"missing file: {r.stderr}")
    r = run(os.path.join(d, "array.json"), "-r", "8", "-s", "4")
    check(r.returncode == 1 and "strataMoePlacementCompute" in r.stderr,
          f"too few slots refused: {r.stderr}")

print(f"{checks[0] - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
