"""Strata: collective communication for large Mixture-of-Experts inference, from Python.

    import numpy as np, strata
    with strata.Comm.from_env() as comm:       # under strata-run, mpirun, Slurm or torchrun
        x = np.ones(1024, dtype=np.float32)
        comm.all_reduce(x)                     # in place; x is now comm.size everywhere

Collectives work on numpy arrays (and any other buffer-protocol object) and on CPU torch tensors,
in place, without copying. `import strata.torch` registers the torch.distributed backend
"strata". See docs/python.md.
"""

import contextlib

from ._errors import (
    InProgressError,
    InternalError,
    InvalidArgumentError,
    InvalidUsageError,
    RemoteError,
    StrataError,
    SystemCallError,
    TimeoutError,
)
from ._strata import (
    Comm,
    Config,
    DataType,
    MoeBuffer,
    MoeHandle,
    PreMulSumOp,
    Quant,
    RedOp,
    Request,
    Result,
    ScalarResidence,
    SharedMemory,
    Stream,
    Window,
    error_string,
    get_unique_id,
    group_end,
    group_start,
    mem_alloc,
    moe_placement,
    moe_placement_route,
    moe_sim_timing_only,
    moe_sim_timing_only_routed,
    quant_value_bytes,
    sim_timing_only,
    topology_rank_count,
    version,
)

_v = version()
__version__ = f"{_v // 10000}.{_v // 100 % 100}.{_v % 100}"
del _v


@contextlib.contextmanager
def group():
    """Fuses the calls made inside the block (strataGroupStart/End): they run, or are queued on
    their streams, when the block ends, so Send/Recv patterns cannot deadlock."""
    group_start()
    try:
        yield
    finally:
        group_end()


__all__ = [
    "Comm",
    "Config",
    "DataType",
    "InProgressError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidUsageError",
    "MoeBuffer",
    "MoeHandle",
    "PreMulSumOp",
    "Quant",
    "RedOp",
    "RemoteError",
    "Request",
    "Result",
    "ScalarResidence",
    "SharedMemory",
    "Stream",
    "StrataError",
    "SystemCallError",
    "TimeoutError",
    "Window",
    "error_string",
    "get_unique_id",
    "group",
    "group_end",
    "group_start",
    "mem_alloc",
    "moe_placement",
    "moe_placement_route",
    "moe_sim_timing_only",
    "moe_sim_timing_only_routed",
    "quant_value_bytes",
    "sim_timing_only",
    "topology_rank_count",
    "version",
]
