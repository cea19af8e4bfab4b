"""One rank of test_windows: shared memory registered as a window, collectives on numpy views of
it (the direct algorithms between processes), and the errors for memory that is not shareable."""

import numpy as np

import strata

with strata.Comm.from_env() as comm:
    n, rank = comm.size, comm.rank
    mem = strata.mem_alloc(1 << 20)
    win = comm.window_register(mem)
    data = np.frombuffer(mem, np.float32)
    x, out = data[:1000], data[1000:1000 + 1000 * n]
    x[:] = rank + 1
    comm.all_reduce(x)
    assert (x == n * (n + 1) / 2).all(), x[:4]
    x[:] = rank
    comm.all_gather(x, out)
    assert (out.reshape(n, 1000) == np.arange(n, dtype=np.float32)[:, None]).all()
    stats = comm.stats()
    try:
        mem.free()
        raise AssertionError("freeing registered memory succeeded")
    except strata.InvalidUsageError:
        pass
    win.deregister()
    assert not win.registered
    mem.free()
    assert mem.freed
    try:
        comm.window_register(np.zeros(16, np.float32))
        raise AssertionError("registering heap memory succeeded")
    except strata.StrataError as e:
        assert "strataMemAlloc" in str(e) or "rank" in str(e), e
    print(f"PASS rank {rank} bytes sent {stats}", flush=True)
