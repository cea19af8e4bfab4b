"""Ranks as processes for the Python tests: under strata-run, or with torchrun's variables."""

import os
import selectors
import socket
import subprocess
import sys
import time

import pytest

PYTHON = sys.executable
WORKERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workers")


def worker(name):
    return os.path.join(WORKERS, name)


def strata_run():
    path = os.environ.get("STRATA_RUN")
    if not path:
        pytest.skip("STRATA_RUN (the strata-run binary) is not set; run through ctest")
    return path


def run_strata(nprocs, script, *args, timeout=120, env=None):
    """Runs `python script args` on nprocs ranks under strata-run; fails the test, showing the
    output, unless every rank exits 0."""
    cmd = [strata_run(), "-np", str(nprocs), "--grace-ms", "5000", PYTHON, script, *args]
    proc = subprocess.run(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}"
    return proc.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ranks:
    """nprocs processes of `python script args` with torchrun's variables (RANK, WORLD_SIZE,
    LOCAL_RANK, MASTER_ADDR, MASTER_PORT), their output read line by line."""

    def __init__(self, nprocs, script, *args, env=None):
        port = free_port()
        self.procs = []
        self.output = [[] for _ in range(nprocs)]
        self._selector = selectors.DefaultSelector()
        for rank in range(nprocs):
            rank_env = {
                **os.environ,
                **(env or {}),
                "RANK": str(rank),
                "LOCAL_RANK": str(rank),
                "WORLD_SIZE": str(nprocs),
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
            }
            proc = subprocess.Popen(
                [PYTHON, script, *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
                env=rank_env,
            )
            self.procs.append(proc)
            self._selector.register(proc.stdout, selectors.EVENT_READ, rank)

    def _read(self, until):
        """Reads available lines until `until` is past; returns False at EOF on every rank."""
        events = self._selector.select(max(0.0, until - time.monotonic()))
        for key, _ in events:
            line = key.fileobj.readline()
            if line:
                self.output[key.data].append(line)
            else:
                self._selector.unregister(key.fileobj)
        return bool(self._selector.get_map())

    def wait_for_line(self, text, timeout):
        """Waits until every rank has printed a line starting with text."""
        deadline = time.monotonic() + timeout
        while not all(any(l.startswith(text) for l in out) for out in self.output):
            if time.monotonic() > deadline or not self._read(deadline):
                self.kill()
                pytest.fail(f"not every rank printed {text!r} in {timeout} s:\n{self.transcript()}")

    def wait(self, timeout):
        """Waits for every rank to exit (killing them all after timeout); returns the codes."""
        deadline = time.monotonic() + timeout
        while self._read(deadline) and time.monotonic() < deadline:
            pass
        codes = []
        for proc in self.procs:
            try:
                codes.append(proc.wait(max(0.1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(proc.wait())
        return codes

    def kill(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            proc.wait()

    def transcript(self):
        return "".join(f"[{r}] {line}" for r, out in enumerate(self.output) for line in out)

    def expect_success(self, timeout):
        codes = self.wait(timeout)
        assert codes == [0] * len(codes), f"exit codes {codes}:\n{self.transcript()}"
        return self.transcript()
