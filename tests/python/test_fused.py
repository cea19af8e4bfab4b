"""The fused AllReduce from Python: Comm.all_reduce_fused with ranks as threads (Comm.init_all),
against all_reduce followed by the same epilogue."""

import numpy as np
import pytest

import strata
from rank_threads import comms_fixture, run_threads


comms = comms_fixture(1, 3)


HIDDEN, TOKENS = 32, 7  # 7 tokens: 3 ranks own 3, 2 and 2


def rms_norm_rows(x, residual, gamma):
    x += residual
    inv = 1.0 / np.sqrt((x.astype(np.float64) ** 2).mean(axis=1, keepdims=True) + 1e-6)
    x[:] = (x * inv.astype(np.float32)) * gamma


def inputs(rank):
    # Multiples of 1/64: the sums are exact in any order, so both reductions agree bit for bit.
    rng = np.random.default_rng(7 + rank)
    return (rng.integers(-64, 65, TOKENS * HIDDEN) / 64).astype(np.float32)


RESIDUAL = np.linspace(-1, 1, TOKENS * HIDDEN, dtype=np.float32).reshape(TOKENS, HIDDEN)
GAMMA = np.linspace(0.5, 1.5, HIDDEN, dtype=np.float32)


def fused(c, quant=None, in_place=False):
    x = inputs(c.rank)
    out = x if in_place else np.empty_like(x)
    calls = []

    def epilogue(offset, count):
        calls.append((offset, count))
        rows = out[offset:offset + count].reshape(-1, HIDDEN)
        first = offset // HIDDEN
        rms_norm_rows(rows, RESIDUAL[first:first + len(rows)], GAMMA)

    c.all_reduce_fused(x, None if in_place else out, epilogue, row=HIDDEN, quant=quant)
    ref = inputs(c.rank)
    c.all_reduce(ref)
    ref = ref.reshape(TOKENS, HIDDEN)
    rms_norm_rows(ref, RESIDUAL, GAMMA)
    return out.reshape(TOKENS, HIDDEN), ref, calls


@pytest.mark.parametrize("in_place", [False, True])
def test_matches_all_reduce_then_epilogue(comms, in_place):
    n = len(comms)
    for c, (out, ref, calls) in zip(comms, run_threads(comms, lambda c: fused(c, in_place=in_place))):
        np.testing.assert_array_equal(out, ref)
        # One call on this rank's whole rows (7 rows: the first 7 % n ranks own one more).
        rows = TOKENS // n + (1 if c.rank < TOKENS % n else 0)
        first = c.rank * (TOKENS // n) + min(c.rank, TOKENS % n)
        assert calls == [(first * HIDDEN, rows * HIDDEN)]


def test_int8_gather_within_bound(comms):
    for out, ref, _ in run_threads(comms, lambda c: fused(c, quant="int8")):
        bound = np.abs(ref).max(axis=1, keepdims=True) / 127 * 0.5 * 1.001
        assert (np.abs(out - ref) <= bound).all()


def test_epilogue_exception_is_raised(comms):
    def body(c):
        x = np.ones(TOKENS * HIDDEN, np.float32)

        def epilogue(offset, count):
            raise ValueError("epilogue failed")

        with pytest.raises(ValueError, match="epilogue failed"):
            c.all_reduce_fused(x, None, epilogue, row=HIDDEN)
    run_threads(comms, body)


def test_bad_arguments(comms):
    c = comms[0]
    if len(comms) != 1:
        pytest.skip("argument errors on one rank")
    x = np.ones(10, np.float32)
    with pytest.raises(strata.InvalidArgumentError, match="rowElems 3 does not divide count 10"):
        c.all_reduce_fused(x, None, lambda o, n: None, row=3)
    with pytest.raises(strata.InvalidArgumentError, match="callable"):
        c.all_reduce_fused(x, None, 5)
    with pytest.raises(strata.InvalidArgumentError, match="needs epi->rowElems"):
        c.all_reduce_fused(x, None, lambda o, n: None, quant="int8")
