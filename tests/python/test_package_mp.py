"""The strata package over 1 to 4 processes under strata-run: Comm.from_env, every collective
over every element type and operator, groups, streams, split and statistics."""

import pytest

from launcher import run_strata, worker


@pytest.mark.parametrize("nprocs", [1, 2, 3, 4])
def test_every_collective_and_type(nprocs):
    out = run_strata(nprocs, worker("package_worker.py"), str(nprocs))
    assert out.count("PASS") == nprocs, out
