"""One rank of test_package_mp: every collective of strata.Comm over every element type, checked
against numpy, with the communicator from the launcher's environment (strata-run)."""

import sys

import numpy as np

import strata

# Every Strata type; numpy has no bfloat16 or float8, so those travel as raw 16/8-bit arrays
# typed with dtype= (bit patterns of small integers, which every reduction keeps exact).
TYPES = {
    "int8": (np.int8, None),
    "uint8": (np.uint8, None),
    "int32": (np.int32, None),
    "uint32": (np.uint32, None),
    "int64": (np.int64, None),
    "uint64": (np.uint64, None),
    "float16": (np.float16, None),
    "float32": (np.float32, None),
    "float64": (np.float64, None),
    "bfloat16": (np.uint16, "bfloat16"),
    "float8_e4m3": (np.uint8, "float8_e4m3"),
    "float8_e5m2": (np.uint8, "float8_e5m2"),
}


def bf16(values):
    return (np.asarray(values, np.float32).view(np.uint32) >> 16).astype(np.uint16)


def e4m3(v):
    # 1.0 = 0x38, 2.0 = 0x40, 3.0 = 0x44, 4.0 = 0x48 (bias 7, 3 mantissa bits)
    return {1: 0x38, 2: 0x40, 3: 0x44, 4: 0x48}[v]


def e5m2(v):
    # 1.0 = 0x3C, 2.0 = 0x40, 3.0 = 0x42, 4.0 = 0x44 (bias 15, 2 mantissa bits)
    return {1: 0x3C, 2: 0x40, 3: 0x42, 4: 0x44}[v]


def encode(name, values):
    """values (small non-negative integers) as an array of type name."""
    values = np.asarray(values)
    np_type, _ = TYPES[name]
    if name == "bfloat16":
        return bf16(values)
    if name == "float8_e4m3":
        return np.array([e4m3(int(v)) for v in values.ravel()], np.uint8)
    if name == "float8_e5m2":
        return np.array([e5m2(int(v)) for v in values.ravel()], np.uint8)
    return values.astype(np_type)


def check(name, what, got, want):
    want = encode(name, want)
    if not np.array_equal(got, want):
        raise AssertionError(f"{what} {name}: got {got}, want {want}")


def run_types(comm):
    r, n = comm.rank, comm.size
    for name, (_, dtype) in TYPES.items():
        small = name.startswith("float8")  # float8 holds 1..4 exactly in our encodings
        x = encode(name, [r % 4 + 1] * 3)
        out = np.zeros_like(x)
        comm.all_reduce(x, out, "max", dtype=dtype)
        check(name, "all_reduce max", out, [min(n, 4)] * 3)
        if not small:
            out = np.zeros_like(x)
            comm.all_reduce(x, out, "sum", dtype=dtype)
            check(name, "all_reduce sum", out, [sum(i % 4 + 1 for i in range(n))] * 3)
        b = encode(name, [r % 4 + 1] * 5)
        comm.broadcast(b, root=n - 1, dtype=dtype)
        check(name, "broadcast", b, [(n - 1) % 4 + 1] * 5)
        g = np.zeros(2 * n, x.dtype)
        comm.all_gather(encode(name, [r % 4 + 1] * 2), g, dtype=dtype)
        check(name, "all_gather", g, np.repeat([i % 4 + 1 for i in range(n)], 2))
        a = np.zeros(n, x.dtype)
        comm.all_to_all(encode(name, [r % 4 + 1] * n), a, dtype=dtype)
        check(name, "all_to_all", a, [i % 4 + 1 for i in range(n)])


def run_ops(comm):
    r, n = comm.rank, comm.size
    x = np.array([r + 1, 2, n - r], np.float64)
    cases = {
        "sum": [n * (n + 1) / 2, 2 * n, n * (n + 1) / 2],
        "prod": [float(np.prod(np.arange(1, n + 1))), 2.0**n, float(np.prod(np.arange(1, n + 1)))],
        "max": [n, 2, n],
        "min": [1, 2, 1],
        "avg": [(n + 1) / 2, 2, (n + 1) / 2],
    }
    for op, want in cases.items():
        out = np.zeros(3)
        comm.all_reduce(x, out, op)
        assert np.array_equal(out, want), (op, out, want)
        red = np.zeros(3)
        comm.reduce(x, red, op, root=n // 2)
        if r == n // 2:
            assert np.array_equal(red, want), ("reduce", op, red, want)
        rs = np.zeros(1)
        comm.reduce_scatter(np.full(n, x[0]), rs, op)
        assert rs[0] == want[0], ("reduce_scatter", op, rs, want)


def run_calls(comm):
    r, n = comm.rank, comm.size
    # reduce_scatter: rank r gets the sum of block r.
    rs = np.zeros(2, np.int32)
    comm.reduce_scatter(np.arange(2 * n, dtype=np.int32) + r, rs)
    assert np.array_equal(rs, n * np.arange(2 * r, 2 * r + 2) + n * (n - 1) // 2), rs
    # all_to_all_v with uneven counts and explicit displacements.
    send_counts = [j + 1 for j in range(n)]
    send = np.full(sum(send_counts), r, np.int64)
    recv = np.full(2 * n * (r + 1), -1, np.int64)
    comm.all_to_all_v(send, send_counts, recv, [r + 1] * n,
                      recv_displs=[2 * i * (r + 1) for i in range(n)])
    for i in range(n):
        assert np.array_equal(recv[2 * i * (r + 1):(2 * i + 1) * (r + 1)], [i] * (r + 1)), recv
    # all_gather_v.
    gv = np.zeros(n * (n + 1) // 2, np.float32)
    comm.all_gather_v(np.full(r + 1, r, np.float32), gv, list(range(1, n + 1)))
    assert np.array_equal(gv, np.repeat(np.arange(n), np.arange(1, n + 1))), gv
    # A ring of send/recv in a group, and the same queued on a stream.
    ring = np.zeros(4, np.float32)
    with strata.group():
        comm.send(np.full(4, r, np.float32), (r + 1) % n)
        comm.recv(ring, (r - 1) % n)
    assert np.array_equal(ring, [(r - 1) % n] * 4), ring
    with strata.Stream() as s:
        ring2 = np.zeros(4, np.float32)
        with strata.group():
            comm.send(np.full(4, r, np.float32), (r + 1) % n, stream=s)
            req = comm.recv(ring2, (r - 1) % n, stream=s)
        x = np.full(1 << 16, r, np.float32)
        reqs = [comm.all_reduce(x, stream=s) for _ in range(3)]
        barrier = comm.barrier(stream=s)
        barrier.wait()
        assert req.is_completed() and all(q.is_completed() for q in reqs)
        assert np.array_equal(ring2, [(r - 1) % n] * 4)
        assert np.all(x == (n * (n - 1) // 2) * n**2)
    # split: even and odd ranks, ordered by descending rank.
    sub = comm.split(r % 2, key=-r)
    assert sub.size == (n - r % 2 + 1) // 2 and sub.rank == (sub.size - 1 - r // 2), (sub.rank, sub.size)
    y = np.ones(1, np.int32)
    sub.all_reduce(y)
    assert y[0] == sub.size
    sub.finalize()
    sub.destroy()
    stats = comm.stats()
    assert stats["total"]["ops"] > 0
    if n > 1:
        assert sum(stats["total"]["bytes_sent"]) > 0


def main():
    with strata.Comm.from_env() as comm:
        assert comm.size == int(sys.argv[1])
        run_types(comm)
        run_ops(comm)
        run_calls(comm)
        comm.barrier()
    print("PASS", flush=True)


if __name__ == "__main__":
    main()
