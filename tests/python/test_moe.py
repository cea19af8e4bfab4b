"""MoE dispatch and combine from Python: strata.MoeBuffer with ranks as threads (Comm.init_all):
layout, dispatch against a reference, identity experts through combine, bad inputs."""

import os

import numpy as np
import pytest

import strata
from rank_threads import comms_fixture, run_threads


comms = comms_fixture(1, 2, 4)


EXPERTS, TOPK, HIDDEN, TOKENS = 16, 3, 24, 10


def routing(rank):
    rng = np.random.default_rng(7 + rank)
    idx = np.stack([rng.choice(EXPERTS, TOPK, replace=False) for _ in range(TOKENS)]).astype(np.int64)
    w = rng.uniform(0.1, 1.0, (TOKENS, TOPK)).astype(np.float32)
    x = rng.uniform(-1, 1, (TOKENS, HIDDEN)).astype(np.float32)
    return idx, w, x


def test_dispatch_and_identity_combine(comms):
    n = len(comms)
    local = EXPERTS // n
    inputs = [routing(r) for r in range(n)]

    def body(comm):
        r = comm.rank
        buf = strata.MoeBuffer(comm, TOKENS, HIDDEN, TOPK, EXPERTS, dtype="float32")
        assert buf.max_recv_tokens == n * TOKENS * min(TOPK, local)
        idx, w, x = inputs[r]
        per_rank, per_expert, in_rank = buf.get_layout(idx)
        assert per_expert.tolist() == np.bincount(idx.ravel(), minlength=EXPERTS).tolist()
        assert in_rank.shape == (TOKENS, n)
        assert per_rank.tolist() == in_rank.sum(axis=0).tolist()
        recv_x, recv_idx, recv_w, counts, handle = buf.dispatch(x, idx, w)
        # The reference: rows by local expert, then source rank, then source token.
        want = []
        for le in range(local):
            e = r * local + le
            for s in range(n):
                sidx, sw, sx = inputs[s]
                for t in range(TOKENS):
                    if e in sidx[t]:
                        want.append((sx[t], sidx[t], sw[t]))
        assert counts.sum() == len(want) == recv_x.shape[0]
        for row, (wx, wi, ww) in enumerate(want):
            assert np.array_equal(recv_x[row], wx)
            assert recv_idx[row].tolist() == wi.tolist()
            assert np.array_equal(recv_w[row], ww)
        out = buf.combine(recv_x, handle)  # identity experts
        np.testing.assert_allclose(out, x * w.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
        buf.destroy()

    run_threads(comms, body)


def test_bf16_with_int8_dispatch(comms):
    n = len(comms)
    inputs = [routing(r) for r in range(n)]

    def body(comm):
        idx, w, x = inputs[comm.rank]
        bits = (x.view(np.uint32) >> 16).astype(np.uint16)  # bfloat16 by truncation
        xb = (bits.astype(np.uint32) << 16).view(np.float32)
        buf = strata.MoeBuffer(comm, TOKENS, HIDDEN, TOPK, EXPERTS, dtype="bfloat16",
                               dispatch_quant="int8")
        recv_x, _, _, _, handle = buf.dispatch(bits, idx.astype(np.int32), w)
        assert recv_x.dtype == np.uint16
        out = buf.combine(recv_x, handle)
        got = (out.astype(np.uint32) << 16).view(np.float32)
        want = xb * w.sum(axis=1, keepdims=True)
        bound = np.abs(xb).max(axis=1, keepdims=True) * w.sum(axis=1, keepdims=True) * (0.5 / 127 + 3 / 128)
        assert np.all(np.abs(got - want) <= bound + 1e-6)
        buf.destroy()

    run_threads(comms, body)


def test_bad_inputs_are_refused_by_name():
    (comm,) = strata.Comm.init_all(1)
    try:
        with pytest.raises(strata.InvalidArgumentError, match="config.topk 0"):
            strata.MoeBuffer(comm, 4, 8, 0, 8)
        with pytest.raises(strata.InvalidArgumentError, match="dispatch_quant"):
            strata.MoeBuffer(comm, 4, 8, 2, 8, dispatch_quant="int4")
        buf = strata.MoeBuffer(comm, 4, 8, 2, 8, dtype="float32")
        x = np.zeros((4, 8), np.float32)
        w = np.ones((4, 2), np.float32)
        with pytest.raises(strata.InvalidArgumentError, match=r"topkIdx\[0\]\[1\] = 8"):
            buf.dispatch(x, np.array([[0, 8], [1, 2], [3, 4], [5, 6]], np.int32), w)
        with pytest.raises(strata.InvalidArgumentError, match="numTokens 5"):
            buf.dispatch(np.zeros((5, 8), np.float32), np.zeros((5, 2), np.int32),
                         np.ones((5, 2), np.float32))
        buf.destroy()
    finally:
        comm.destroy()


def test_placement_and_timing_only():
    load = 1.0 / np.arange(1, 65) ** 1.2
    slots, before, after = strata.moe_placement(load, 8, 9)
    assert slots.shape == (72,) and set(slots.tolist()) == set(range(64))
    assert before > 2 and after <= 1.15
    (comm,) = strata.Comm.init_all(1)
    try:
        buf = strata.MoeBuffer(comm, 4, 8, 2, 8, dtype="float32", num_slots=9)
        with pytest.raises(strata.InvalidUsageError, match="no placement"):
            buf.dispatch(np.zeros((1, 8), np.float32), np.array([[0, 1]], np.int32),
                         np.ones((1, 2), np.float32))
        buf.set_placement(np.array([0, 1, 2, 3, 4, 5, 6, 7, 0], np.int32))
        recv_x, _, _, counts, handle = buf.dispatch(np.ones((1, 8), np.float32),
                                                    np.array([[0, 1]], np.int32),
                                                    np.ones((1, 2), np.float32))
        assert counts.tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0]
        np.testing.assert_allclose(buf.combine(recv_x, handle), 2 * np.ones((1, 8)))
        buf.destroy()
    finally:
        comm.destroy()
    sent = np.full((8, 8), 16, dtype=np.uint64)
    t = strata.moe_sim_timing_only(sent, 128, 7168, 8, 256, config={"topo_file": "hccs-8"})
    assert t["nranks"] == 8 and t["dispatch_us"] > 0 and t["combine_us"] > 0
    t2 = strata.moe_sim_timing_only(sent * 2, 128, 7168, 8, 256, config={"topo_file": "hccs-8"})
    assert t2["dispatch_us"] > t["dispatch_us"]


def test_routed_timing_only_takes_the_two_level_route():
    # hccs-2x8: every token of every rank goes to experts on 4 ranks of the other group.
    idx = np.zeros((16, 32, 4), np.int32)
    for s in range(16):
        other = 1 - s // 8
        for j in range(4):
            idx[s, :, j] = (other * 8 + 2 * j) * 2
    cfg = {"topo_file": "hccs-2x8"}
    # Pinned: at this small shape auto prices the flat route cheaper (docs/moe.md).
    try:
        os.environ["STRATA_MOE_ROUTE"] = "hier"
        hier = strata.moe_sim_timing_only_routed(idx, 256, 32, config=cfg)
        os.environ["STRATA_MOE_ROUTE"] = "flat"
        flat = strata.moe_sim_timing_only_routed(idx, 256, 32, config=cfg)
    finally:
        del os.environ["STRATA_MOE_ROUTE"]
    assert hier["nranks"] == 16 and hier["algo"] == "moe-dispatch-hier"
    assert flat["algo"] == "moe-dispatch"
    assert 2 * hier["dispatch_level_bytes"][1] < flat["dispatch_level_bytes"][1]
    assert 2 * hier["combine_level_bytes"][1] < flat["combine_level_bytes"][1]
    with pytest.raises(strata.InvalidArgumentError, match="slotIdx"):
        bad = idx.copy()
        bad[3, 5, 1] = 99
        strata.moe_sim_timing_only_routed(bad, 256, 32, config=cfg)


@pytest.mark.parametrize("n,chunk,wait", [(1, 3, True), (2, 2, True), (4, 1, False)])
def test_pipelined_dispatch_and_combine_match_unpipelined(n, chunk, wait):
    comms = strata.Comm.init_all(n)
    local = EXPERTS // n
    inputs = [routing(r) for r in range(n)]

    def expert(le, rows):  # a synthetic expert per local slot
        return rows * np.float32(1 + le % 3) + np.float32(0.5)

    def body(comm):
        idx, w, x = inputs[comm.rank]
        buf = strata.MoeBuffer(comm, TOKENS, HIDDEN, TOPK, EXPERTS, dtype="float32")
        # Unpipelined: one chunk, synchronous.
        buf.chunk_tokens = TOKENS
        assert buf.chunk_tokens == TOKENS
        recv_x, recv_idx, recv_w, counts, handle = buf.dispatch(x, idx, w)
        parts = np.split(recv_x, np.cumsum(counts)[:-1])
        outs = np.concatenate([expert(le, part) for le, part in enumerate(parts)])
        plain = buf.combine(outs, handle)
        # Pipelined: chunks land while the expert works on earlier ones.
        buf.chunk_tokens = chunk
        assert buf.chunk_tokens == chunk
        px, pidx, pw, pcounts, phandle = buf.dispatch_async(x, idx, w)
        expert_out = np.zeros_like(px)
        out = buf.combine_async(expert_out, phandle)
        seen = np.zeros(px.shape[0], dtype=int)
        while True:
            got = buf.next_chunk(-1, wait)
            if got is None:  # polling: nothing new yet
                continue
            le, first, rows = got
            if rows == 0:
                break
            sl = slice(first, first + rows)
            seen[sl] += 1
            expert_out[sl] = expert(le, px[sl])
            buf.rows_ready(phandle, first, rows)
        buf.synchronize()
        total = int(counts.sum())
        assert seen[:total].tolist() == [1] * total and seen[total:].sum() == 0
        assert pcounts.tolist() == counts.tolist()
        assert np.array_equal(px[:total], recv_x)
        assert np.array_equal(pidx[:total], recv_idx)
        assert np.array_equal(pw[:total], recv_w)
        assert np.array_equal(out, plain)
        assert total > 0
        with pytest.raises(strata.InvalidUsageError, match="already handed back"):
            buf.rows_ready(phandle, 0, 1)
        buf.destroy()

    try:
        run_threads(comms, body)
    finally:
        for c in comms:
            c.destroy()


def test_chunk_calls_refuse_bad_values():
    (comm,) = strata.Comm.init_all(1)
    try:
        buf = strata.MoeBuffer(comm, 8, 4, 2, 4, dtype="float32")
        assert buf.chunk_tokens == 8  # the default, capped at max_tokens_per_rank
        with pytest.raises(strata.InvalidUsageError, match="has not dispatched yet"):
            buf.next_chunk()
        with pytest.raises(strata.InvalidArgumentError, match="localExpert 4 is outside"):
            buf.next_chunk(4)
        with pytest.raises(strata.InvalidArgumentError, match="chunk_tokens"):
            buf.chunk_tokens = -1
        buf.destroy()
    finally:
        comm.destroy()


def test_placement_route_prefers_own_rank_then_host():
    # 4 experts on 2 ranks x 3 slots: expert 0 replicated on both ranks, expert 3 on rank 1 only.
    slots = np.array([0, 1, 2, 0, 3, 1], np.int32)
    r0 = strata.moe_placement_route(slots, 4, 2, 0)
    r1 = strata.moe_placement_route(slots, 4, 2, 1)
    assert r0.tolist()[:3] == [0, 1, 2] and r0[3] == 4  # expert 3 lives only in slot 4
    assert r1[0] == 3 and r1[1] == 5 and r1[3] == 4  # own-rank replicas of experts 0 and 1
    assert r1[2] == 2
    # hccs-8: one host of 8 ranks, so every replica is on the host: candidates[rank % n].
    slots8 = np.array([e for e in range(8)] + [0] * 8, np.int32).reshape(8, 2).ravel()
    routes = [strata.moe_placement_route(slots8, 8, 8, r, topology="hccs-8") for r in range(8)]
    for r, route in enumerate(routes):
        assert all(slots8[s] == e for e, s in enumerate(route))
    with pytest.raises(strata.InvalidArgumentError, match="rank 8 is outside"):
        strata.moe_placement_route(slots, 4, 2, 8)
    with pytest.raises(strata.InvalidArgumentError, match="expert 3 has no slot"):
        strata.moe_placement_route(np.array([0, 1, 2, 0, 0, 1], np.int32), 4, 2, 0)
    with pytest.raises(strata.InvalidArgumentError, match="has 8 ranks, not nranks 2"):
        strata.moe_placement_route(slots, 4, 2, 0, topology="hccs-8")
