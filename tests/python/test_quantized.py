"""The quantised AllGather from Python: Comm.all_gather_quantized, all_gather_quantized_raw and
all_gather_quantized_raw_prequantized with ranks as threads (Comm.init_all)."""

import numpy as np
import pytest

import strata
from rank_threads import comms_fixture, run_threads

QMAX = {"int8": 127.0, "int4": 7.0, "fp8": 448.0}


comms = comms_fixture(2, 3)


def input_of(rank, count):
    rng = np.random.default_rng(100 + rank)
    return (rng.uniform(-1, 1, count) * 2.0 ** (np.arange(count) // 50 % 8 - 3)).astype(np.float32)


def to_bf16(x):
    """float32 -> bfloat16 bits (round to nearest even) as uint16."""
    u = x.astype(np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def from_bf16(h):
    return (h.astype(np.uint32) << 16).view(np.float32)


def bound(x, block, quant, out_ulp):
    """The documented per-element bound for the blocks of x."""
    b = np.empty_like(x, dtype=np.float64)
    for start in range(0, len(x), block):
        blk = x[start:start + block].astype(np.float64)
        scale = np.abs(blk).max() / QMAX[quant]
        if quant == "fp8":
            b[start:start + block] = np.maximum(np.abs(blk) / 16, scale / 1024)
        else:
            b[start:start + block] = scale / 2
    return b + np.abs(x.astype(np.float64)) * 2.0 ** -21 + out_ulp


@pytest.mark.parametrize("quant", ["int8", "int4", "fp8"])
@pytest.mark.parametrize("src", ["float32", "float16", "bfloat16"])
def test_dequantised_gather_within_bound(comms, quant, src):
    n = len(comms)
    count, block = 1003, 128  # a short last block

    def cast(x):
        if src == "float32":
            return x, x
        if src == "float16":
            h = x.astype(np.float16)
            return h, h.astype(np.float32)
        h = to_bf16(x)
        return h, from_bf16(h)

    def body(c):
        send, _ = cast(input_of(c.rank, count))
        recv = np.zeros(n * count, dtype=send.dtype)
        c.all_gather_quantized(send, recv, quant, block, dtype=None if src != "bfloat16" else "bfloat16")
        return recv

    outs = run_threads(comms, body)
    for r in range(n):
        assert np.array_equal(outs[r].view(np.uint8), outs[0].view(np.uint8)), "ranks disagree"
    got = outs[0] if src != "bfloat16" else from_bf16(outs[0])
    got = got.astype(np.float64)
    ulp = {"float32": 2.0 ** -24, "float16": 2.0 ** -11, "bfloat16": 2.0 ** -8}[src]
    for k in range(n):
        _, x = cast(input_of(k, count))
        xh = got[k * count:(k + 1) * count]
        lim = bound(x, block, quant, np.abs(xh) * ulp + (2.0 ** -25 if src == "float16" else 1e-30))
        err = np.abs(x.astype(np.float64) - xh)
        assert (err <= lim).all(), f"rank {k}: element {int(np.argmax(err - lim))} beyond the bound"


@pytest.mark.parametrize("quant", ["int8", "int4", "fp8"])
def test_raw_values_and_scales_match_the_dequantised_gather(comms, quant):
    n = len(comms)
    count, block = 301, 100
    vb = strata.quant_value_bytes(quant, count)
    assert vb == ((count + 1) // 2 if quant == "int4" else count)
    nb = (count + block - 1) // block

    def body(c):
        x = input_of(c.rank, count)
        values = np.zeros(n * vb, dtype=np.uint8)
        scales = np.zeros(n * nb, dtype=np.float32)
        c.all_gather_quantized_raw(x, values, scales, quant, block)
        deq = np.zeros(n * count, dtype=np.float32)
        c.all_gather_quantized(x, deq, quant, block)
        # Already quantised: our own part gathered again as it is.
        again_v = np.zeros_like(values)
        again_s = np.zeros_like(scales)
        r = c.rank
        c.all_gather_quantized_raw_prequantized(values[r * vb:(r + 1) * vb], scales[r * nb:(r + 1) * nb],
                                                again_v, again_s, quant, block, count=count)
        return values, scales, deq, again_v, again_s

    for values, scales, deq, again_v, again_s in run_threads(comms, body):
        assert np.array_equal(again_v, values) and np.array_equal(again_s, scales)
        for k in range(n):
            v = values[k * vb:(k + 1) * vb]
            if quant == "int8":
                codes = v.view(np.int8).astype(np.float32)
            elif quant == "int4":
                lo = (v.astype(np.int8) << 4).astype(np.int8) >> 4
                hi = v.astype(np.int8) >> 4
                codes = np.stack([lo, hi], axis=1).reshape(-1)[:count].astype(np.float32)
            else:
                continue  # fp8 decoding is covered by the dequantised gather's bound
            s = np.repeat(scales[k * nb:(k + 1) * nb], block)[:count]
            assert np.array_equal(codes * s, deq[k * count:(k + 1) * count]), f"rank {k}"


def test_nan_and_infinity_propagate(comms):
    n = len(comms)
    count = 200

    def body(c):
        x = input_of(c.rank, count)
        x[5], x[150] = np.nan, -np.inf
        recv = np.zeros(n * count, dtype=np.float32)
        c.all_gather_quantized(x, recv, "int8", 64)
        return recv

    for recv in run_threads(comms, body):
        for k in range(n):
            part = recv[k * count:(k + 1) * count]
            assert np.isnan(part[5]) and part[150] == -np.inf
            assert np.isfinite(np.delete(part, [5, 150])).all()


def test_bad_arguments_are_refused_by_name():
    with strata.Comm(1, strata.get_unique_id(), 0) as c:
        x = np.ones(16, dtype=np.float32)
        out = np.zeros(16, dtype=np.float32)
        with pytest.raises(strata.InvalidArgumentError, match="blockElems"):
            c.all_gather_quantized(x, out, "int8", 0)
        with pytest.raises(strata.InvalidArgumentError, match="quant"):
            c.all_gather_quantized(x, out, "int3", 8)
        with pytest.raises(strata.InvalidArgumentError, match="srcType"):
            c.all_gather_quantized(np.ones(16, np.int32), np.zeros(16, np.int32), "int8", 8)
        with pytest.raises(strata.InvalidArgumentError, match="scales"):
            c.all_gather_quantized_raw(x, np.zeros(16, np.uint8), np.zeros(1, np.float32), "int8", 8)
        assert strata.quant_value_bytes("int4", 7) == 4
        assert strata.quant_value_bytes(strata.Quant.int8, 7) == 7


def test_queued_on_a_stream_and_in_a_group(comms):
    n = len(comms)
    count = 500

    def body(c):
        x = input_of(c.rank, count)
        a = np.zeros(n * count, dtype=np.float32)
        values = np.zeros(n * count, dtype=np.uint8)
        scales = np.zeros(n * 5, dtype=np.float32)
        s = strata.Stream()
        c.all_gather_quantized(x, a, "int8", 100, stream=s).wait()
        b = np.zeros_like(a)
        with strata.group():
            c.all_gather_quantized(x, b, "int8", 100)
            c.all_gather_quantized_raw(x, values, scales, "int8", 100)
        return a, b, values, scales

    for a, b, values, scales in run_threads(comms, body):
        assert np.array_equal(a, b)
        codes = values.view(np.int8).astype(np.float32)
        assert np.array_equal(codes * np.repeat(scales, 100), a)
