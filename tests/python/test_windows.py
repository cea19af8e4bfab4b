"""strata.mem_alloc and Comm.window_register between processes under strata-run."""

import pytest

from launcher import run_strata, worker


@pytest.mark.parametrize("nprocs", [2, 3])
def test_windowed_collectives_between_processes(nprocs):
    out = run_strata(nprocs, worker("window_worker.py"))
    assert out.count("PASS") == nprocs, out
