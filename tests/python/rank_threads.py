"""Ranks as threads of the test's process (Comm.init_all): the fixture that makes and destroys
the communicators, and the runner that calls a body on every rank at once."""

import threading

import pytest

import strata


def run_threads(comms, body):
    """Runs body(comm) on one thread per rank; returns the results by rank, re-raising the first
    error."""
    results = [None] * len(comms)
    errors = []

    def run(i):
        try:
            results[i] = body(comms[i])
        except BaseException as e:  # reported on the test's thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(comms))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def comms_fixture(*sizes):
    """A fixture `comms`: the communicators of one job of each of these rank counts in turn."""

    @pytest.fixture(params=list(sizes))
    def comms(request):
        made = strata.Comm.init_all(request.param)
        yield made
        for c in made:
            c.destroy()

    return comms
