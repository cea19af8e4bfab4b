"""DuoStream from Python: Comm.sim_compute charges the caller's compute to the sim's virtual
clock, and an all_gather queued on a stream overlaps it (ranks as threads, Comm.init_all)."""

import math

import numpy as np
import pytest

import strata
from rank_threads import run_threads


def ps(us):
    return round(us * 1e6)


def test_sim_compute_overlaps_a_collective_on_a_stream():
    comms = strata.Comm.init_all(8, config=strata.Config(transport="sim", topo_file="hccs-8"))

    def body(c):
        x = np.full(4096, c.rank, np.float32)
        out = np.zeros(4096 * c.size, np.float32)
        c.all_gather(x, out)
        gather = ps(c.stats()["last"]["sim_time_us"])
        t0 = ps(c.stats()["sim_clock_us"])
        c.sim_compute(3.0)
        assert ps(c.stats()["sim_clock_us"]) - t0 == ps(3.0)
        with strata.Stream() as s:
            t1 = ps(c.stats()["sim_clock_us"])
            out[:] = -1
            c.all_gather(x, out, stream=s)
            c.sim_compute(2 * gather / 1e6)
            s.synchronize()
            assert ps(c.stats()["sim_clock_us"]) - t1 == 2 * gather
            assert np.array_equal(out, np.repeat(np.arange(c.size, dtype=np.float32), 4096))

    try:
        run_threads(comms, body)
    finally:
        for c in comms:
            c.destroy()


def test_sim_compute_bad_input_and_no_clock():
    (c,) = strata.Comm.init_all(1)
    try:
        for bad in (-1.0, math.nan, math.inf):
            with pytest.raises(strata.InvalidArgumentError, match="microseconds is"):
                c.sim_compute(bad)
        c.sim_compute(5.0)  # shm keeps no virtual clock: nothing happens
        assert c.stats()["sim_clock_us"] == 0.0
    finally:
        c.destroy()
