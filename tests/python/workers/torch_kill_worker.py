"""One rank of test_torch_kill: AllReduce on the strata group in a loop until a peer is killed;
then wait() must raise a strata.StrataError, and the rank exits with code 3."""

import os
import time

import torch
import torch.distributed as dist

import strata
import strata.torch


def main():
    dist.init_process_group("strata")
    x = torch.ones(1 << 20)  # 4 MiB: the kill lands mid-AllReduce
    dist.all_reduce(x)
    print("READY", flush=True)
    while True:
        work = dist.all_reduce(x, async_op=True)
        start = time.monotonic()
        try:
            work.wait()
        except strata.StrataError as e:
            print(f"RAISED {type(e).__name__} after {time.monotonic() - start:.3f} s: {e}", flush=True)
            os._exit(3)
        x.fill_(1.0)


if __name__ == "__main__":
    main()
