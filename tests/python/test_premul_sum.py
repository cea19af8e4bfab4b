"""Pre-multiplied sums from Python: Comm.redop_create_premul_sum / redop_destroy with ranks as
threads (Comm.init_all), in all_reduce, reduce and reduce_scatter."""

import numpy as np
import pytest

import strata
from rank_threads import comms_fixture, run_threads


comms = comms_fixture(1, 3)

COUNT = 96


def scalar_of(rank):
    return -1.0 if rank % 2 == 0 else 2.0


def expected(n, x):
    """sum over ranks of scalar_r * x(r), as float64."""
    return sum(scalar_of(r) * x(r) for r in range(n))


def x_of(rank, elems=COUNT):
    return ((np.arange(elems) + rank) % 3 - 1).astype(np.float64)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32", "int64"])
@pytest.mark.parametrize("in_place", [False, True])
def test_all_reduce_reduce_reduce_scatter(comms, dtype, in_place):
    n = len(comms)

    def body(c):
        op = c.redop_create_premul_sum(scalar_of(c.rank) if "float" in dtype else
                                       int(scalar_of(c.rank)), dtype)
        assert isinstance(op, strata.PreMulSumOp)
        out = {}
        x = x_of(c.rank).astype(dtype)
        y = x.copy() if in_place else np.empty_like(x)
        c.all_reduce(y if in_place else x, None if in_place else y, op=op)
        out["all_reduce"] = y
        x = x_of(c.rank).astype(dtype)
        y = np.zeros_like(x)
        c.reduce(x, y, op=op, root=n - 1)
        out["reduce"] = y
        big = x_of(c.rank, COUNT * n).astype(dtype)
        y = np.empty(COUNT, dtype=dtype)
        c.reduce_scatter(big, y, op=op)
        out["reduce_scatter"] = y
        c.redop_destroy(op)
        return out

    for c, out in zip(comms, run_threads(comms, body)):
        full = expected(n, lambda r: x_of(r))
        np.testing.assert_array_equal(out["all_reduce"], full.astype(dtype))
        if c.rank == n - 1:
            np.testing.assert_array_equal(out["reduce"], full.astype(dtype))
        whole = expected(n, lambda r: x_of(r, COUNT * n))
        block = whole[c.rank * COUNT:(c.rank + 1) * COUNT]
        np.testing.assert_array_equal(out["reduce_scatter"], block.astype(dtype))


def test_device_scalar_is_read_when_each_call_runs(comms):
    n = len(comms)

    def body(c):
        s = np.array([2.0], dtype=np.float32)
        dev = c.redop_create_premul_sum(s, residence="device")
        host = c.redop_create_premul_sum(s, residence="host")
        assert dev.residence == strata.ScalarResidence.device
        x = np.full(8, c.rank + 1, dtype=np.float32)
        got = []
        for op, value in ((dev, 2.0), (dev, 3.0), (host, 5.0)):
            s[0] = value
            y = np.empty_like(x)
            c.all_reduce(x, y, op=op)
            got.append(float(y[0]))
        stream = strata.Stream()
        s[0] = 7.0
        y = np.empty_like(x)
        c.all_reduce(x, y, op=dev, stream=stream).wait()
        got.append(float(y[0]))
        c.redop_destroy(dev)
        c.redop_destroy(host)
        return got

    total = n * (n + 1) / 2
    for got in run_threads(comms, body):
        # The host scalar was read when it was made (2), the device one at each call.
        assert got == [2 * total, 3 * total, 2 * total, 7 * total]


def test_bad_inputs_raise_invalid_argument():
    (c,) = strata.Comm.init_all(1)
    try:
        op = c.redop_create_premul_sum(2.0, "float32")
        x = np.ones(4, dtype=np.float64)
        with pytest.raises(strata.InvalidArgumentError, match="created for float and used with double"):
            c.all_reduce(x, op=op)
        with pytest.raises(strata.InvalidArgumentError, match="residence 'nowhere'"):
            c.redop_create_premul_sum(2.0, "float32", residence="nowhere")
        with pytest.raises(strata.InvalidArgumentError, match="not a number"):
            c.redop_create_premul_sum(2.0, "float32", residence="device")
        with pytest.raises(strata.InvalidArgumentError, match="not one"):
            c.redop_create_premul_sum(np.ones(2, dtype=np.float32), residence="device")
        with pytest.raises(strata.InvalidArgumentError, match="not an integer"):
            c.redop_create_premul_sum(2.5, "int32")
        c.redop_destroy(op)
        with pytest.raises(strata.InvalidArgumentError, match="already destroyed"):
            c.redop_destroy(op)
        with pytest.raises(strata.InvalidArgumentError, match="was destroyed"):
            c.all_reduce(np.ones(4, dtype=np.float32), op=op)
    finally:
        c.destroy()
