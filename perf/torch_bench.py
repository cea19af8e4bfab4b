#!/usr/bin/python3
"""torch.distributed over the "strata" backend against "gloo", on the same tensors in one run.

Times dist.all_reduce (float32 sum) and dist.all_gather_into_tensor with each backend,
2 processes on this host, 1 KiB to 64 MiB. Each round times a batch of calls with one backend,
then with the other (alternating which goes first); the table shows the median over the
rounds of the slower rank's time per call, the bus bandwidth (nccl-tests' factors) and the
ratio strata/gloo. Gloo in torch 1.13 has no all_gather_into_tensor: its side gathers into the
same output tensor viewed as one chunk per rank (dist.all_gather), which moves the same bytes.

Then the overhead of the torch backend over the C API at 8 bytes: dist.all_reduce on the strata
group, the raw binding on the same communicator (comm.all_reduce with and without a stream),
and, with --c-api, build/bin/all_reduce_perf under strata-run in the same run (at 8 bytes and
at every size of the sweep, for the backend's share of the C API's busbw).

Usage (from the source tree, after the build):
  PYTHONPATH=build/python /usr/bin/python3 perf/torch_bench.py [--rounds 7] [--min 1K]
      [--max 64M] [--c-api build/bin]
The script starts its 2 ranks itself (with torchrun's variables), or runs as one rank when
RANK is already set (under torchrun).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time


def parse_size(text):
    m = re.fullmatch(r"(\d+)([KMG]?)", text.upper())
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text}")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


def human(n):
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}iB"
    return f"{n} B"


def options():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--min", type=parse_size, default=1 << 10)
    p.add_argument("--max", type=parse_size, default=64 << 20)
    p.add_argument("--factor", type=int, default=4)
    p.add_argument("--small-iters", type=int, default=20000,
                   help="calls per round at 8 bytes (default 20000)")
    p.add_argument("--c-api", metavar="BIN_DIR",
                   help="also run BIN_DIR/all_reduce_perf at 8 bytes under BIN_DIR/strata-run")
    return p.parse_args()


def launch(args):
    """Starts the two ranks (this script again) and waits for them."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in range(2):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        procs.append(subprocess.Popen([sys.executable] + sys.argv, env=env))
    codes = [p.wait() for p in procs]
    if any(codes):
        sys.exit(f"torch_bench: ranks exited with {codes}")


def c_api_times(bin_dir, first, last, factor, iters):
    """all_reduce_perf's out-of-place time per size (bytes -> microseconds), float32 sum, under
    strata-run -np 2."""
    cmd = [os.path.join(bin_dir, "strata-run"), "-np", "2", os.path.join(bin_dir, "all_reduce_perf"),
           "-b", str(first), "-e", str(last), "-f", str(factor), "-n", str(iters),
           "-w", str(max(1, iters // 10)), "-c", "0"]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True).stdout
    times = {}
    for line in out.splitlines():
        fields = line.split()  # "[0]  <bytes>  <count>  float  sum  -1  <time us> ..."
        if len(fields) > 6 and fields[0] == "[0]" and fields[1].isdigit():
            times[int(fields[1])] = float(fields[6])
    if not times:
        raise RuntimeError(f"no result rows in:\n{out}")
    return times


def c_api_medians(bin_dir, first, last, factor, iters, runs=3):
    runs = [c_api_times(bin_dir, first, last, factor, iters) for _ in range(runs)]
    return {size: statistics.median(r[size] for r in runs) for size in runs[0]}


def main():
    args = options()
    if "RANK" not in os.environ:
        return launch(args)

    import torch
    import torch.distributed as dist

    import strata.torch  # registers the backend

    dist.init_process_group("gloo")
    rank, n = dist.get_rank(), dist.get_world_size()
    groups = {"strata": dist.new_group(backend="strata"), "gloo": dist.new_group(backend="gloo")}
    control = dist.new_group(backend="gloo")  # barriers and timing exchange, outside the timings

    def slowest(seconds):
        t = torch.tensor([seconds], dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=control)
        return t.item()

    def timed(call, iters):
        dist.barrier(group=control)
        start = time.perf_counter()
        for _ in range(iters):
            call()
        return slowest(time.perf_counter() - start) / iters

    def all_reduce_call(name, x):
        g = groups[name]
        return lambda: dist.all_reduce(x, group=g)

    def all_gather_call(name, x, out):
        g = groups[name]
        if name == "strata":
            return lambda: dist.all_gather_into_tensor(out, x, group=g)
        chunks = list(out.chunk(n))
        return lambda: dist.all_gather(chunks, x, group=g)

    sizes = []
    size = args.min
    while size <= args.max:
        sizes.append(size)
        size *= args.factor

    results = {}  # (collective, size, backend) -> [seconds per call]
    for size in sizes:
        iters = max(5, min(200, (16 << 20) // size))
        x = torch.ones(size // 4)
        gin = torch.ones(size // 4 // n)
        gout = torch.empty(size // 4)
        calls = {
            ("all_reduce", "strata"): all_reduce_call("strata", x),
            ("all_reduce", "gloo"): all_reduce_call("gloo", x),
            ("all_gather", "strata"): all_gather_call("strata", gin, gout),
            ("all_gather", "gloo"): all_gather_call("gloo", gin, gout),
        }
        for call in calls.values():  # warm-up: connections, plans, page faults
            call()
        for r in range(args.rounds):
            order = ["strata", "gloo"] if r % 2 == 0 else ["gloo", "strata"]
            for coll in ("all_reduce", "all_gather"):
                for backend in order:
                    t = timed(calls[(coll, backend)], iters)
                    results.setdefault((coll, size, backend), []).append(t)

    # 8 bytes: the torch backend against the raw binding on the same communicator.
    small = torch.ones(2)
    comm = groups["strata"].comm
    stream = strata.Stream()
    small_calls = {
        "dist.all_reduce (strata backend)": all_reduce_call("strata", small),
        "dist.all_reduce (gloo)": all_reduce_call("gloo", small),
        "strata binding, stream + wait": lambda: comm.all_reduce(small, stream=stream).wait(),
        "strata binding, no stream": lambda: comm.all_reduce(small),
    }
    small_results = {}
    for name, call in small_calls.items():
        for _ in range(100):
            call()
    for r in range(args.rounds):
        for name, call in small_calls.items():
            iters = args.small_iters // 20 if "gloo" in name else args.small_iters
            small_results.setdefault(name, []).append(timed(call, iters))
    stream.close()

    c_api = {}
    if rank == 0 and args.c_api:  # rank 1 waits in the final barrier meanwhile
        c_api = c_api_medians(args.c_api, 8, 8, 2, args.small_iters)
        c_api.update(c_api_medians(args.c_api, sizes[0], sizes[-1], args.factor, 20))

    if rank == 0:
        report(args, sizes, results, small_results, c_api, n)
    dist.barrier(group=control)
    dist.destroy_process_group()


def report(args, sizes, results, small_results, c_api, n):
    factors = {"all_reduce": 2 * (n - 1) / n, "all_gather": (n - 1) / n}
    print(f"\ntorch.distributed, {n} processes, float32, median of {args.rounds} interleaved rounds "
          f"(time per call of the slower rank)")
    for coll in ("all_reduce", "all_gather"):
        label = "dist.all_reduce (sum)" if coll == "all_reduce" else "dist.all_gather_into_tensor"
        with_c = coll == "all_reduce" and c_api
        print(f"\n{label}")
        print(f"{'size':>10} | {'strata us':>10} {'gloo us':>10} | {'strata GB/s':>11} {'gloo GB/s':>10} | "
              f"{'strata/gloo busbw':>17}" + (f" | {'C API us':>9} {'C/torch':>8}" if with_c else ""))
        for size in sizes:
            s = statistics.median(results[(coll, size, "strata")])
            g = statistics.median(results[(coll, size, "gloo")])
            bus = lambda t: size / t * factors[coll] / 1e9
            line = (f"{human(size):>10} | {s * 1e6:10.1f} {g * 1e6:10.1f} | {bus(s):11.3f} {bus(g):10.3f} | "
                    f"{g / s:17.1f}")
            if with_c:
                line += f" | {c_api[size]:9.1f} {c_api[size] / (s * 1e6):8.2f}"
            print(line)
    print("\n8 bytes (all_reduce, float32 sum), microseconds per call")
    for name, values in small_results.items():
        print(f"  {name:40s} {statistics.median(values) * 1e6:9.2f}")
    if c_api:
        print(f"  {'C API (all_reduce_perf, strata-run -np 2)':40s} {c_api[8]:9.2f}")
        torch_us = statistics.median(small_results["dist.all_reduce (strata backend)"]) * 1e6
        print(f"  torch backend overhead over the C API: {torch_us - c_api[8]:.2f} us per call")
    if c_api:
        print("\n(C API: all_reduce_perf out of place under strata-run -np 2, run by this script after "
              "the torch timings; C/torch is the torch backend's share of the C API's busbw)")


if __name__ == "__main__":
    main()
