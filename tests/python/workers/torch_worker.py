"""One rank of test_torch_backend: every operation of the "strata" backend against Gloo on the
same inputs, which hold small integers so that every reduction order gives the same exact
answer; results must be identical.

Gloo in torch 1.13 lacks some of these operations and bfloat16, so for those the Gloo side is
built from what it has, on the same inputs: bfloat16 runs as float32 copies (and the result is
rounded back); all_gather_into_tensor is Gloo's all_gather into a list; reduce_scatter is Gloo's
all_reduce of the whole input, of which rank r keeps block r; all_to_all (of lists) is Gloo's
all_to_all_single of the concatenated inputs; AVG is Gloo's SUM divided by the rank count.

Usage: torch_worker.py env|store [ddp]
  env    init_process_group("strata") from torchrun's variables
  store  init_process_group("strata", store=TCPStore(...), rank=..., world_size=...)
  ddp    also the DDP-style training loop, against the same loop over Gloo
"""

import os
import sys
import warnings

import torch
import torch.distributed as dist

import strata
import strata.torch

FLOAT_TYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
INT_TYPES = [torch.int8, torch.uint8, torch.int32, torch.int64]
SUM, PROD, MIN, MAX, AVG = (dist.ReduceOp.SUM, dist.ReduceOp.PRODUCT, dist.ReduceOp.MIN,
                            dist.ReduceOp.MAX, dist.ReduceOp.AVG)


class Checker:
    def __init__(self, gloo):
        self.gloo = gloo
        self.rank = dist.get_rank()
        self.n = dist.get_world_size()
        self.count = 0

    def compare(self, what, strata_side, gloo_side, *inputs):
        """strata_side(tensors...) runs on the default (strata) group, gloo_side(group,
        tensors...) on Gloo; each returns its results, which must be identical."""
        got = strata_side(*[t.clone() for t in inputs])
        want = gloo_side(self.gloo, *[t.clone().to(gloo_type(t.dtype)) for t in inputs])
        for a, b in zip(got, want):
            b = b.to(a.dtype)
            if a.dtype != inputs[0].dtype or not torch.equal(a, b):
                raise AssertionError(f"rank {self.rank}: {what}: strata {a} != gloo {b}")
        self.count += 1


def gloo_type(dtype):
    return torch.float32 if dtype == torch.bfloat16 else dtype


def values(n_elems, rank, dtype, period=3):
    """Small non-negative integers, different on every rank."""
    return (torch.arange(n_elems) % period + rank + 1).to(dtype)


def same(fn):
    """The same call on both sides: fn(group, tensors...) with group None for strata."""
    return (lambda *t: fn(None, *t)), fn


def check_all_reduce(c, dtype):
    for op in [SUM, MIN, MAX]:
        def run(group, x, op=op):
            dist.all_reduce(x, op=op, group=group)
            return [x]

        c.compare(f"all_reduce {op.op.name} {dtype}", *same(run), values(10, c.rank, dtype))

    def prod(group, x):
        dist.all_reduce(x, op=PROD, group=group)
        return [x]

    c.compare(f"all_reduce PRODUCT {dtype}", *same(prod), values(10, c.rank, dtype, period=2) % 2 + 1)
    def coalesced(group, x):
        parts = [x[:4].clone(), x[4:].clone()]
        with warnings.catch_warnings():  # "will be deprecated"
            warnings.simplefilter("ignore")
            dist.all_reduce_coalesced(parts, group=group)
        return parts

    c.compare(f"all_reduce_coalesced {dtype}", *same(coalesced), values(10, c.rank, dtype))
    if dtype.is_floating_point:
        def avg(x):
            dist.all_reduce(x, op=AVG)
            return [x]

        def gloo_avg(group, x):
            dist.all_reduce(x, op=SUM, group=group)
            return [x / c.n]

        c.compare(f"all_reduce AVG {dtype}", avg, gloo_avg, values(10, c.rank, dtype))


def check_rooted(c, dtype):
    def broadcast(group, x):
        dist.broadcast(x, src=c.n - 1, group=group)
        return [x]

    c.compare(f"broadcast {dtype}", *same(broadcast), values(7, c.rank, dtype))

    def reduce(group, x):
        dist.reduce(x, dst=0, op=SUM, group=group)
        return [x] if c.rank == 0 else []  # other ranks' tensors are unspecified

    c.compare(f"reduce {dtype}", *same(reduce), values(7, c.rank, dtype))

    def gather(group, x):
        outs = [torch.empty_like(x) for _ in range(c.n)] if c.rank == 1 % c.n else None
        dist.gather(x, outs, dst=1 % c.n, group=group)
        return outs or []

    c.compare(f"gather {dtype}", *same(gather), values(5, c.rank, dtype))

    def scatter(group, x):
        out = torch.empty_like(x)
        ins = [x + i for i in range(c.n)] if c.rank == 0 else None
        dist.scatter(out, ins, src=0, group=group)
        return [out]

    c.compare(f"scatter {dtype}", *same(scatter), values(5, c.rank, dtype))

    # The root's tensors as consecutive blocks of one tensor: Strata gathers into them and
    # scatters from them without a copy.
    def gather_into_one(group, x):
        whole = torch.zeros(c.n * x.numel(), dtype=x.dtype)
        dist.gather(x, list(whole.chunk(c.n)) if c.rank == 0 else None, dst=0, group=group)
        return [whole] if c.rank == 0 else []

    c.compare(f"gather into one tensor {dtype}", *same(gather_into_one), values(5, c.rank, dtype))

    def scatter_from_one(group, x):
        out = torch.empty(2, dtype=x.dtype)
        whole = torch.cat([x[:2] + i for i in range(c.n)]) if c.rank == c.n - 1 else None
        dist.scatter(out, list(whole.chunk(c.n)) if whole is not None else None, src=c.n - 1,
                     group=group)
        return [out]

    c.compare(f"scatter from one tensor {dtype}", *same(scatter_from_one), values(5, c.rank, dtype))


def check_rooted_calls(c):
    """gather and scatter run as Strata's Gather and Scatter, not as Send/Recv, whatever the
    root's tensors are."""
    comm = dist.distributed_c10d._get_default_group().comm
    for one_tensor in (False, True):
        x = torch.full((4,), float(c.rank))
        whole = torch.zeros(4 * c.n)
        outs = (list(whole.chunk(c.n)) if one_tensor else [torch.zeros(4) for _ in range(c.n)])
        dist.gather(x, outs if c.rank == 0 else None, dst=0)
        algo = comm.stats()["last_algo"]
        assert algo in ("direct", "binomial"), f"rank {c.rank}: gather ran {algo}"
        if c.rank == 0:
            assert [float(o[0]) for o in outs] == [float(r) for r in range(c.n)], outs
        out = torch.zeros(4)
        dist.scatter(out, outs if c.rank == 0 else None, src=0)
        algo = comm.stats()["last_algo"]
        assert algo in ("direct", "binomial"), f"rank {c.rank}: scatter ran {algo}"
        assert float(out[3]) == float(c.rank), out
        c.count += 1


def check_gathers(c, dtype):
    def all_gather(group, x):
        outs = [torch.empty_like(x) for _ in range(c.n)]
        dist.all_gather(outs, x, group=group)
        return outs

    c.compare(f"all_gather {dtype}", *same(all_gather), values(6, c.rank, dtype))

    def into_tensor(x):
        out = torch.empty(c.n * x.numel(), dtype=x.dtype)
        dist.all_gather_into_tensor(out, x)
        return [out]

    def gloo_into_tensor(group, x):
        return [torch.cat(all_gather(group, x))]

    c.compare(f"all_gather_into_tensor {dtype}", into_tensor, gloo_into_tensor, values(6, c.rank, dtype))

    def gloo_block(group, x):
        dist.all_reduce(x, group=group)
        return [x.chunk(c.n)[c.rank]]

    def reduce_scatter(x):
        out = torch.empty(x.numel() // c.n, dtype=x.dtype)
        dist.reduce_scatter(out, list(x.chunk(c.n)))
        return [out]

    c.compare(f"reduce_scatter {dtype}", reduce_scatter, gloo_block, values(4 * c.n, c.rank, dtype))

    def reduce_scatter_tensor(x):
        out = torch.empty(x.numel() // c.n, dtype=x.dtype)
        dist.reduce_scatter_tensor(out, x)
        return [out]

    c.compare(f"reduce_scatter_tensor {dtype}", reduce_scatter_tensor, gloo_block, values(4 * c.n, c.rank, dtype))


def check_all_to_all(c, dtype):
    def single(group, x):
        out = torch.empty_like(x)
        dist.all_to_all_single(out, x, group=group)
        return [out]

    c.compare(f"all_to_all_single {dtype}", *same(single), values(3 * c.n, c.rank, dtype, period=7))

    # Uneven splits of 2-column rows: rank r sends j+1 rows to rank j and receives r+1 from each.
    send_rows = [j + 1 for j in range(c.n)]
    recv_rows = [c.rank + 1] * c.n

    def split(group, x):
        out = torch.empty(sum(recv_rows), 2, dtype=x.dtype)
        dist.all_to_all_single(out, x, recv_rows, send_rows, group=group)
        return [out]

    rows = values(2 * sum(send_rows), c.rank, dtype, period=5).reshape(-1, 2)
    c.compare(f"all_to_all_single splits {dtype}", *same(split), rows)

    def lists(x):
        outs = [torch.empty(2, dtype=x.dtype) for _ in range(c.n)]
        dist.all_to_all(outs, list(x.chunk(c.n)))
        return outs

    def gloo_lists(group, x):
        return list(single(group, x)[0].chunk(c.n))

    c.compare(f"all_to_all {dtype}", lists, gloo_lists, values(2 * c.n, c.rank, dtype, period=7))


def check_point_to_point(c, dtype):
    nxt, prv = (c.rank + 1) % c.n, (c.rank - 1) % c.n

    def ring(group, x):
        out = torch.empty_like(x)
        ops = [dist.P2POp(dist.isend, x, nxt, group), dist.P2POp(dist.irecv, out, prv, group)]
        for req in dist.batch_isend_irecv(ops):
            req.wait()
        return [out]

    c.compare(f"batch_isend_irecv {dtype}", *same(ring), values(1000, c.rank, dtype))

    def blocking(group, x):
        out = torch.empty_like(x)
        if c.rank == 0:
            dist.send(x, 1, group=group)
            dist.recv(out, c.n - 1, group=group)
        else:
            dist.recv(out, c.rank - 1, group=group)
            dist.send(x, nxt, group=group)
        return [out]

    c.compare(f"send/recv {dtype}", *same(blocking), values(9, c.rank, dtype))


def check_async_and_futures(c):
    x = values(1 << 16, c.rank, torch.float32)
    work = dist.all_reduce(x, async_op=True)
    futures = [dist.all_reduce(values(4, c.rank, torch.float32), async_op=True).get_future()
               for _ in range(3)]
    chained = futures[-1].then(lambda f: f.value()[0] * 2)
    assert work.wait() is True and work.is_completed() and work.is_success()
    assert torch.equal(work.result()[0], x)
    torch.futures.wait_all(futures)
    want = sum(values(4, r, torch.float32) for r in range(c.n))
    assert torch.equal(chained.wait(), want * 2), chained.wait()
    dist.barrier()


def check_unsupported(c):
    def expect(what, fn, text):
        try:
            fn()
        except (RuntimeError, ValueError) as e:
            assert text in str(e), f"{what}: {e}"
        else:
            raise AssertionError(f"{what} did not raise")

    meta = torch.empty(4, device="meta")
    expect("meta tensor", lambda: dist.all_reduce(meta), "strata backend: allreduce: the tensor is on meta")
    expect("recv without src", lambda: dist.recv(torch.empty(1)), "strata backend: recv_anysource")
    expect("tag", lambda: dist.send(torch.empty(1), (c.rank + 1) % c.n, tag=3), "strata backend: send: tag 3")
    expect("BAND", lambda: dist.all_reduce(torch.ones(1, dtype=torch.int32), op=dist.ReduceOp.BAND),
           "strata backend: allreduce: reduce op BAND")
    expect("non-contiguous", lambda: dist.all_reduce(torch.ones(4, 4).t()), "not contiguous")
    expect("int16", lambda: dist.all_reduce(torch.ones(4, dtype=torch.int16)), "int16")
    # Each rank its own root, so no rank waits for another's refused call.
    expect("gather sizes", lambda: dist.gather(torch.ones(4), [torch.empty(3)] * c.n, dst=c.rank),
           "strata backend: gather: the outputs must each have the input's type and size")
    expect("scatter sizes", lambda: dist.scatter(torch.ones(4), [torch.ones(3)] * c.n, src=c.rank),
           "strata backend: scatter: the inputs must each have the output's type and size")


def check_subgroup(c):
    """A second strata group over the even ranks, beside the default one."""
    ranks = list(range(0, c.n, 2))
    sub = dist.new_group(ranks, backend="strata")
    if c.rank in ranks:
        x = torch.ones(3)
        dist.all_reduce(x, group=sub)
        assert torch.equal(x, torch.full((3,), float(len(ranks)))), x
        assert isinstance(sub, strata.torch.ProcessGroupStrata) and sub.comm.size == len(ranks)


def ddp_loop(group, steps=20):
    """DDP-style training: identical replicas, different data per rank, gradients averaged with
    one all_reduce per parameter per step. Returns the final parameters."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(100 + dist.get_rank())
    n = dist.get_world_size()
    for _ in range(steps):
        x = torch.randn(8, 16, generator=gen)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        for p in model.parameters():
            dist.all_reduce(p.grad, group=group)
            p.grad /= n
        opt.step()
    return [p.detach().clone() for p in model.parameters()]


def check_ddp(c):
    params = ddp_loop(None)
    reference = ddp_loop(c.gloo)
    for p, q in zip(params, reference):
        # Two ranks add in one order only; with more, the two libraries may add in different
        # orders, which moves the last bit.
        if c.n == 2:
            assert torch.equal(p, q), (p - q).abs().max()
        else:
            assert torch.allclose(p, q, rtol=1e-5, atol=1e-6), (p - q).abs().max()
        # The replicas stay identical.
        copies = [torch.empty_like(p) for _ in range(c.n)]
        dist.all_gather(copies, p)
        assert all(torch.equal(p, q) for q in copies)
    # torch's own DistributedDataParallel over the strata group (its reducer calls the backend
    # from C++).
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    ddp(torch.full((2, 4), float(c.rank))).sum().backward()
    want = torch.full((1, 4), 2.0 * sum(range(c.n)) / c.n)
    assert torch.allclose(model.weight.grad, want), model.weight.grad


def main():
    mode = sys.argv[1]
    rank, n = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    if mode == "env":
        dist.init_process_group("strata")
    else:
        store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), n, rank == 0)
        dist.init_process_group("strata", store=store, rank=rank, world_size=n)
    assert dist.get_backend() == "strata"
    c = Checker(dist.new_group(backend="gloo"))
    for dtype in FLOAT_TYPES + INT_TYPES:
        check_all_reduce(c, dtype)
        check_rooted(c, dtype)
        check_gathers(c, dtype)
        check_all_to_all(c, dtype)
        check_point_to_point(c, dtype)
    check_rooted_calls(c)
    check_async_and_futures(c)
    check_unsupported(c)
    check_subgroup(c)
    if "ddp" in sys.argv[2:]:
        check_ddp(c)
    dist.barrier()
    print(f"PASS {c.count} comparisons", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
