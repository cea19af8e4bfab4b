"""A rank of a strata process group SIGKILLed mid-AllReduce: every other rank's Work.wait()
raises a StrataError within the timeout (STRATA_TIMEOUT_MS, short here) instead of hanging."""

import os
import signal
import time

import pytest

from launcher import Ranks, worker

pytest.importorskip("torch")

TIMEOUT_S = 3


@pytest.mark.parametrize("nprocs,victim", [(2, 1), (3, 0)])
def test_survivors_wait_raises(nprocs, victim):
    ranks = Ranks(nprocs, worker("torch_kill_worker.py"),
                  env={"STRATA_TIMEOUT_MS": str(TIMEOUT_S * 1000)})
    ranks.wait_for_line("READY", timeout=120)
    time.sleep(0.3)
    # The victim stays an unreaped zombie until ranks.wait(), as a crashed peer would.
    os.kill(ranks.procs[victim].pid, signal.SIGKILL)
    killed = time.monotonic()
    # Twice the timeout, as the house tests allow; the ranks are killed if they pass it.
    codes = ranks.wait(timeout=2 * TIMEOUT_S)
    elapsed = time.monotonic() - killed
    transcript = ranks.transcript()
    assert codes[victim] == -signal.SIGKILL, transcript
    for rank, code in enumerate(codes):
        if rank != victim:
            assert code == 3, f"rank {rank} exited {code} {elapsed:.1f} s after the kill:\n{transcript}"
            assert any(l.startswith(("RAISED RemoteError", "RAISED TimeoutError"))
                       for l in ranks.output[rank]), transcript
