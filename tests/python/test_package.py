"""The strata package in one process: the API, argument checks and errors, dtypes, streams,
groups and statistics. Multi-rank collectives run with ranks as threads (Comm.init_all)."""

import numpy as np
import pytest

import strata
from rank_threads import comms_fixture, run_threads

NUMPY_TYPES = {
    "int8": np.int8,
    "uint8": np.uint8,
    "int32": np.int32,
    "uint32": np.uint32,
    "int64": np.int64,
    "uint64": np.uint64,
    "float16": np.float16,
    "float32": np.float32,
    "float64": np.float64,
}


@pytest.fixture
def comm():
    with strata.Comm(1, strata.get_unique_id(), 0) as c:
        yield c


comms = comms_fixture(2, 3)


def test_version_and_unique_id():
    assert strata.version() == 100
    assert strata.__version__ == "0.1.0"
    a, b = strata.get_unique_id(), strata.get_unique_id()
    assert isinstance(a, bytes) and len(a) == 128 and a != b


def test_comm_attributes_and_context_manager():
    with strata.Comm(1, strata.get_unique_id(), 0, config={"comm_name": "one"}) as c:
        assert (c.rank, c.size) == (0, 1)
        assert repr(c) == "<strata.Comm rank 0 of 1>"
        assert c.async_error() == strata.Result.Success
        assert c.last_error == ""
    with pytest.raises(strata.InvalidUsageError, match="destroyed or aborted"):
        c.barrier()


def test_config_fields():
    cfg = strata.Config(timeout_ms=5000, comm_name="x", blocking=True, reduce_precision="float32")
    assert (cfg.timeout_ms, cfg.comm_name, cfg.blocking, cfg.transport) == (5000, "x", True, None)
    assert cfg.reduce_precision == "float32"
    with strata.Comm(1, strata.get_unique_id(), 0, config=cfg) as c:
        assert c.size == 1
    with pytest.raises(TypeError):
        strata.Config(no_such_field=1)
    with pytest.raises(strata.InvalidArgumentError, match="config must be"):
        strata.Comm(1, strata.get_unique_id(), 0, config=42)


def test_nonblocking_init_reports_progress():
    c = strata.Comm(1, strata.get_unique_id(), 0, config=strata.Config(blocking=False))
    while c.async_error() == strata.Result.InProgress:
        pass
    assert c.async_error() == strata.Result.Success
    c.destroy()


def test_all_numpy_types_reduce(comm):
    for name, t in NUMPY_TYPES.items():
        x = np.arange(5).astype(t)
        out = np.zeros_like(x)
        comm.all_reduce(x, out, "max")
        np.testing.assert_array_equal(out, x, err_msg=name)


def test_dtype_override_for_bfloat16(comm):
    # numpy has no bfloat16: a uint16 array holding bfloat16 bit patterns, typed with dtype=.
    bits = np.array([0x3F80, 0x4000, 0x4040], dtype=np.uint16)  # 1.0, 2.0, 3.0
    comm.all_reduce(bits, op="sum", dtype="bfloat16")
    np.testing.assert_array_equal(bits, [0x3F80, 0x4000, 0x4040])
    # A float32 array of 4 elements seen as 8 bfloat16s.
    comm.all_reduce(np.zeros(4, np.float32), dtype=strata.DataType.bfloat16)


@pytest.mark.parametrize("precision", [None, "wire", "float32"])
def test_torch_tensors_including_bfloat16(precision):
    torch = pytest.importorskip("torch")
    comms = strata.Comm.init_all(2, config=strata.Config(reduce_precision=precision))
    try:
        def body(c):
            t = torch.full((6,), float(c.rank + 1), dtype=torch.bfloat16)
            c.all_reduce(t)
            out = torch.empty(12, dtype=torch.bfloat16)
            c.all_gather(t, out)
            return t, out

        for t, out in run_threads(comms, body):
            assert t.dtype == torch.bfloat16 and torch.equal(t, torch.full((6,), 3.0, dtype=torch.bfloat16))
            assert torch.equal(out, torch.full((12,), 3.0, dtype=torch.bfloat16))
    finally:
        for c in comms:
            c.destroy()


def test_op_names(comm):
    x = np.array([3.0], np.float32)
    for name in ["sum", "prod", "product", "max", "min", "avg", strata.RedOp.max]:
        out = np.zeros(1, np.float32)
        comm.all_reduce(x, out, name)
        assert out[0] == 3.0
    with pytest.raises(strata.InvalidArgumentError, match="no Strata reduction is called 'band'"):
        comm.all_reduce(x, op="band")


def test_non_contiguous_read_only_and_wrongly_sized_buffers(comm):
    x = np.zeros(8, np.float32)
    with pytest.raises(strata.InvalidArgumentError, match="all_reduce: sendbuf is not contiguous"):
        comm.all_reduce(x[::2])
    with pytest.raises(strata.InvalidArgumentError, match="all_reduce: recvbuf is not contiguous"):
        comm.all_reduce(np.zeros(4, np.float32), x[::2])
    ro = np.zeros(8, np.float32)
    ro.flags.writeable = False
    with pytest.raises(strata.InvalidArgumentError, match="all_reduce: sendbuf is read-only"):
        comm.all_reduce(ro)
    with pytest.raises(strata.InvalidArgumentError, match="recv: buf is read-only"):
        comm.recv(ro, 0)
    comm.all_reduce(ro, x)  # read-only input, separate output: fine
    with pytest.raises(strata.InvalidArgumentError, match="recvbuf holds 7 float32 elements; it must hold 8"):
        comm.all_reduce(x, np.zeros(7, np.float32))
    with pytest.raises(strata.InvalidArgumentError, match="all_gather: recvbuf holds 4"):
        comm.all_gather(x, np.zeros(4, np.float32))
    with pytest.raises(strata.InvalidArgumentError, match="recvbuf holds float64 but sendbuf holds float32"):
        comm.all_reduce(x, np.zeros(8, np.float64))
    with pytest.raises(strata.InvalidArgumentError, match="sendbuf has buffer format 'h'"):
        comm.all_reduce(np.zeros(4, np.int16))
    with pytest.raises(strata.InvalidArgumentError, match="no Strata element type is called 'complex64'"):
        comm.all_reduce(x, dtype="complex64")
    with pytest.raises(strata.InvalidArgumentError, match="not a whole number of float64"):
        comm.all_reduce(np.zeros(3, np.float32), dtype="float64")
    with pytest.raises(strata.InvalidArgumentError, match="neither exposes the buffer protocol"):
        comm.all_reduce([1.0, 2.0])
    with pytest.raises(strata.InvalidArgumentError, match="send_counts has 2 entries"):
        comm.all_to_all_v(x, [1, 1], x, [1])
    with pytest.raises(strata.InvalidArgumentError, match="block 0 .* ends beyond recvbuf's 8"):
        comm.all_to_all_v(x, [8], np.zeros(8, np.float32), [9])


def test_errors_from_the_library_carry_code_and_last_error(comm):
    x = np.zeros(4, np.float32)
    with pytest.raises(strata.InvalidArgumentError) as info:
        comm.send(x, 5)
    e = info.value
    assert isinstance(e, strata.StrataError) and isinstance(e, ValueError)
    assert e.code == strata.Result.InvalidArgument
    assert "peer 5" in e.last_error and "peer 5" in str(e)
    assert comm.last_error == e.last_error
    with pytest.raises(strata.InvalidArgumentError, match="unique_id holds 3 bytes"):
        strata.Comm(2, b"abc", 0)
    with pytest.raises(strata.InvalidArgumentError, match="rank 2 is outside"):
        strata.Comm(2, strata.get_unique_id(), 2)


def test_error_classes_follow_result_codes():
    pairs = {
        strata.Result.SystemError: strata.SystemCallError,
        strata.Result.InternalError: strata.InternalError,
        strata.Result.InvalidArgument: strata.InvalidArgumentError,
        strata.Result.InvalidUsage: strata.InvalidUsageError,
        strata.Result.RemoteError: strata.RemoteError,
        strata.Result.InProgress: strata.InProgressError,
        strata.Result.Timeout: strata.TimeoutError,
    }
    from strata._errors import error_class

    for code, cls in pairs.items():
        assert error_class(int(code)) is cls and issubclass(cls, strata.StrataError)
        assert strata.error_string(code)


def test_stream_request_and_stats(comm):
    x = np.ones(1000, np.float32)
    with strata.Stream() as s:
        reqs = [comm.all_reduce(x, stream=s) for _ in range(5)]
        reqs[-1].wait()
        assert all(r.is_completed() for r in reqs)
        s.synchronize()
        assert s.query()
    stats = comm.stats()
    assert set(stats) == {"num_levels", "sim_clock_us", "last", "total", "last_algo", "last_algo_source"}
    assert stats["last_algo"]  # one rank: whichever algorithm the model picked
    assert stats["last_algo_source"] == "model"
    assert stats["total"]["ops"] >= 5
    assert set(stats["last"]) == {"sim_time_us", "bytes_sent", "syncs", "steps", "ops", "call_bytes"}
    assert stats["last"]["call_bytes"] == 4000
    assert len(stats["total"]["bytes_sent"]) == stats["num_levels"]
    with pytest.raises(strata.InvalidUsageError, match="stream is closed"):
        comm.all_reduce(x, stream=s)


def test_temporaries_stay_alive_on_a_stream(comm):
    with strata.Stream() as s:
        reqs = [comm.all_reduce(np.full(1 << 16, i, np.float64), stream=s) for i in range(4)]
        for r in reqs:
            r.wait()


def test_request_in_an_unfinished_group(comm):
    s = strata.Stream()
    strata.group_start()
    try:
        r = comm.barrier(stream=s)
        with pytest.raises(strata.InvalidUsageError, match="group that has not ended"):
            r.wait()
    finally:
        strata.group_end()
    r.wait()
    assert r.is_completed()
    with pytest.raises(strata.InvalidUsageError, match="no group was started"):
        strata.group_end()
    s.close()


def test_all_collectives_as_threads(comms):
    n = len(comms)

    def body(c):
        r = c.rank
        out = {}
        x = np.full(4, r + 1, np.int32)
        c.all_reduce(x)
        out["all_reduce"] = x
        b = np.full(3, r, np.float64)
        c.broadcast(b, root=n - 1)
        out["broadcast"] = b
        bc = np.full(5, 10 * r + 1, np.int32)
        c.bcast(bc, root=0)
        out["bcast"] = bc
        red = np.zeros(2, np.int64)
        c.reduce(np.full(2, r, np.int64), red, "sum", root=0)
        out["reduce"] = red
        g = np.zeros(2 * n, np.float32)
        c.all_gather(np.full(2, r, np.float32), g)
        out["all_gather"] = g
        gv = np.zeros(n * (n + 1) // 2, np.int32)
        c.all_gather_v(np.full(r + 1, r, np.int32), gv, [i + 1 for i in range(n)])
        out["all_gather_v"] = gv
        rs = np.zeros(2, np.float32)
        c.reduce_scatter(np.arange(2 * n, dtype=np.float32), rs, "sum")
        out["reduce_scatter"] = rs
        a = np.zeros(n, np.int64)
        c.all_to_all(np.arange(n, dtype=np.int64) + 10 * r, a)
        out["all_to_all"] = a
        send_counts = [j + 1 for j in range(n)]  # rank r sends j+1 elements to rank j
        av = np.zeros(n * (r + 1), np.int32)
        c.all_to_all_v(np.full(sum(send_counts), r, np.int32), send_counts, av, [r + 1] * n)
        out["all_to_all_v"] = av
        ring = np.zeros(3, np.float32)
        with strata.group():
            c.send(np.full(3, r, np.float32), (r + 1) % n)
            c.recv(ring, (r - 1) % n)
        out["ring"] = ring
        c.barrier()
        sub = c.split(r % 2)
        out["split"] = (sub.rank, sub.size)
        sub.destroy()
        assert c.split(None) is None
        return out

    for r, out in enumerate(run_threads(comms, body)):
        np.testing.assert_array_equal(out["all_reduce"], n * (n + 1) // 2)
        np.testing.assert_array_equal(out["broadcast"], n - 1)
        np.testing.assert_array_equal(out["bcast"], 1)
        if r == 0:
            np.testing.assert_array_equal(out["reduce"], n * (n - 1) // 2)
        np.testing.assert_array_equal(out["all_gather"], np.repeat(np.arange(n), 2))
        np.testing.assert_array_equal(out["all_gather_v"], np.repeat(np.arange(n), np.arange(1, n + 1)))
        np.testing.assert_array_equal(out["reduce_scatter"], n * np.arange(2 * r, 2 * r + 2))
        np.testing.assert_array_equal(out["all_to_all"], 10 * np.arange(n) + r)
        np.testing.assert_array_equal(out["all_to_all_v"], np.repeat(np.arange(n), r + 1))
        np.testing.assert_array_equal(out["ring"], (r - 1) % n)
        assert out["split"] == (r // 2, (n - r % 2 + 1) // 2)


def test_gather_and_scatter(comms):
    n = len(comms)
    root = n - 1

    def body(c):
        r = c.rank
        g = np.zeros(3 * n, np.float32) if r == root else None
        c.gather(np.full(3, r, np.float32), g, root=root)
        sent = np.arange(2 * n, dtype=np.int64) if r == root else None
        s = np.zeros(2, np.int64)
        c.scatter(sent, s, root=root)
        # In place on the root: its own block of the gathered buffer, its block of the scattered.
        gi = np.zeros(n, np.int32)
        gi[0] = 7
        c.gather(gi[0:1] if r == 0 else np.full(1, r, np.int32), gi if r == 0 else None, root=0)
        return g, s, gi

    for r, (g, s, gi) in enumerate(run_threads(comms, body)):
        if r == root:
            np.testing.assert_array_equal(g, np.repeat(np.arange(n), 3))
        np.testing.assert_array_equal(s, [2 * r, 2 * r + 1])
        if r == 0:
            np.testing.assert_array_equal(gi, [7] + list(range(1, n)))


def test_gather_and_scatter_check_sizes_and_roots():
    comms = strata.Comm.init_all(2)
    try:

        def body(c):
            errors = []
            for call in (
                lambda: c.gather(np.zeros(2, np.float32), np.zeros(3, np.float32), root=c.rank),
                lambda: c.scatter(np.zeros(3, np.float32), np.zeros(2, np.float32), root=c.rank),
                lambda: c.gather(np.zeros(2, np.float32), root=c.rank),
                lambda: c.scatter(None, np.zeros(2, np.float32), root=c.rank),
                lambda: c.gather(np.zeros(2, np.float32), np.zeros(4, np.float32), root=5),
            ):
                with pytest.raises(strata.InvalidArgumentError) as e:
                    call()
                errors.append(str(e.value))
            return errors

        for errors in run_threads(comms, body):
            assert "it must hold 4" in errors[0]
            assert "it must hold 4" in errors[1]
            assert "recvbuf is required on the root" in errors[2]
            assert "sendbuf is required on the root" in errors[3]
            assert "root 5" in errors[4]
    finally:
        for c in comms:
            c.destroy()


def test_stats_name_the_algorithm_a_tune_string_pins():
    comms = strata.Comm.init_all(
        2, config=strata.Config(algo="allreduce:0-1k:@oneshot#allreduce:1k-inf:@ring")
    )
    try:

        def body(c):
            c.all_reduce(np.ones(8, np.float32))
            small = c.stats()["last_algo"]
            c.all_reduce(np.ones(4096, np.float32))
            return small, c.stats()["last_algo"], c.stats()["last_algo_source"]

        assert run_threads(comms, body) == [("oneshot", "ring", "tune string")] * 2
    finally:
        for c in comms:
            c.destroy()
    with pytest.raises(strata.InvalidArgumentError, match="valid: ring, ringpipe, oneshot"):
        strata.Comm.init_all(2, config=strata.Config(algo="allreduce:@nosuch"))


def test_abort_makes_peers_fail():
    comms = strata.Comm.init_all(2)

    def body(c):
        if c.rank == 1:
            c.abort()
            return None
        with pytest.raises(strata.StrataError) as info:
            c.all_reduce(np.zeros(1 << 20, np.float32))
        return info.value.code

    codes = run_threads(comms, body)
    assert codes[0] in (strata.Result.RemoteError, strata.Result.Timeout)
    comms[0].abort()


def test_shrink_excludes_ranks_and_renumbers():
    comms = strata.Comm.init_all(4)

    def body(c):
        if c.rank == 2:
            return None  # excluded ranks do not call
        s = c.shrink([2])
        x = np.full(16, s.rank + 1, np.float32)
        s.all_reduce(x)
        out = (s.rank, s.size, float(x[0]))
        s.destroy()
        return out

    try:
        results = run_threads(comms, body)
        assert results == [(0, 3, 6.0), (1, 3, 6.0), None, (2, 3, 6.0)]
        with pytest.raises(strata.InvalidArgumentError, match=r"excludeRanks\[0\] = 9 is outside 0..3"):
            comms[0].shrink([9])
        with pytest.raises(strata.InvalidArgumentError, match="is the calling rank"):
            comms[0].shrink([0])
    finally:
        for c in comms:
            c.destroy()


def test_timing_only_simulation():
    assert strata.topology_rank_count("hccs-8") == 8
    r = strata.sim_timing_only("allreduce", 1 << 20, "float32", config={"topo_file": "hccs-8"})
    assert r["nranks"] == 8 and r["sim_time_us"] > 0 and r["algo"]
    with pytest.raises(strata.InvalidArgumentError):
        strata.sim_timing_only("no-such-collective", 8, config={"topo_file": "hccs-8"})
