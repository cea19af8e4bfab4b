"""The torch.distributed backend "strata" over 2 and 4 processes: every operation against Gloo
on the same inputs with identical results (bfloat16 included), a DDP-style training loop, and
torch's DistributedDataParallel. See workers/torch_worker.py."""

import pytest

from launcher import Ranks, worker

pytest.importorskip("torch")


@pytest.mark.parametrize(
    "nprocs,bootstrap",
    [(2, "env"), (4, "store")],
    ids=["2-ranks-torchrun-env", "4-ranks-explicit-store"],
)
def test_every_operation_against_gloo(nprocs, bootstrap):
    ranks = Ranks(nprocs, worker("torch_worker.py"), bootstrap, "ddp")
    out = ranks.expect_success(timeout=240)
    assert out.count("PASS") == nprocs, out


def test_import_registers_the_backend():
    import torch.distributed as dist

    import strata.torch

    assert dist.Backend("strata") == "strata"
    assert dist.Backend._plugins["STRATA"].creator_fn is strata.torch._create_process_group
