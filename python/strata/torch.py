"""The torch.distributed backend "strata", registered on import.

    import torch, torch.distributed as dist
    import strata.torch  # registers the backend
    dist.init_process_group("strata")  # torchrun's variables, or store=/init_method= as usual
    x = torch.ones(4)
    dist.all_reduce(x)

The process group bootstraps through torch's store: rank 0 creates a Strata unique id (the root's
address and a fresh random secret) and puts it into the group's store; the other ranks read it
there. No extra port or environment variable is needed, and the secret is never derived from
anything another job could see.

Operations are queued on the group's Strata stream and return a Work that completes
asynchronously: wait() blocks (without the GIL) and raises the strata.StrataError of a failed
call; get_future() gives a torch.futures.Future completed from a helper thread. The stream runs
the group's operations in order, so waiting on one also waits for those issued before it. An
operation torch waits for at once (async_op=False) runs on the calling thread instead when
nothing is queued before it. Only CPU tensors are supported.
"""

import os
import queue
import sys
import threading

import torch
import torch.distributed as dist
from torch.distributed import ReduceOp

from torch._C._distributed_c10d import _create_work_from_future

from . import _strata

__all__ = ["ProcessGroupStrata", "BACKEND"]

BACKEND = "strata"

_UNIQUE_ID_KEY = "strata_unique_id"

_C10D_MODULE = dist.distributed_c10d.__name__
# torch.distributed functions that wait for the Work they get before returning, without an
# async_op argument.
_BLOCKING_FUNCTIONS = frozenset({"send", "recv"})

# By the value of ReduceOp.RedOpType (an int is much cheaper to look up than the enum).
_RED_OPS = {
    int(ReduceOp.RedOpType.SUM): _strata.RedOp.sum,
    int(ReduceOp.RedOpType.PRODUCT): _strata.RedOp.prod,
    int(ReduceOp.RedOpType.MIN): _strata.RedOp.min,
    int(ReduceOp.RedOpType.MAX): _strata.RedOp.max,
    int(ReduceOp.RedOpType.AVG): _strata.RedOp.avg,
}


class _FutureCompleter:
    """Completes the futures of Work objects from one daemon thread, in issue order."""

    def __init__(self):
        self._queue = queue.SimpleQueue()
        self._thread = None
        self._lock = threading.Lock()

    def add(self, request, future, result):
        if request is _COMPLETED:
            future.set_result(result)
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="strata-futures", daemon=True
                )
                self._thread.start()
        self._queue.put((request, future, result))

    def _run(self):
        while True:
            request, future, result = self._queue.get()
            try:
                request.wait()
            except Exception as e:  # the future carries the call's error
                future.set_exception(e)
            else:
                future.set_result(result)


class _Completed:
    """The request of a call that ran to completion when it was issued."""

    def wait(self):
        pass

    def is_completed(self):
        return True


_COMPLETED = _Completed()


class _Work(dist.Work):
    """A queued Strata call seen as a torch Work."""

    def __init__(self, request, result, completer):
        super().__init__()
        self._request = request
        self._result = result
        self._completer = completer
        self._future = None
        self._error = None

    def wait(self, timeout=None):
        # Strata's own deadline (STRATA_TIMEOUT_MS, or the group's timeout) bounds the wait.
        try:
            self._request.wait()
        except Exception as e:
            self._error = e
            raise
        return True

    def is_completed(self):
        return self._request.is_completed()

    def is_success(self):
        if not self.is_completed():
            return False
        try:
            self._request.wait()
        except Exception as e:
            self._error = e
        return self._error is None

    def exception(self):
        return self._error

    def result(self):
        return self._result

    def synchronize(self):
        pass  # CPU only: nothing to order against a device stream

    def get_future(self):
        if self._future is None:
            self._future = torch.futures.Future()
            self._completer.add(self._request, self._future, self._result)
        return self._future


def _unsupported(op, why):
    return RuntimeError(f"strata backend: {op}: {why}")


def _cpu_tensor(t, op):
    if t.device.type != "cpu":
        raise _unsupported(op, f"the tensor is on {t.device}; Strata moves CPU tensors only")
    return t


def _one_tensor(tensors, op):
    if len(tensors) != 1:
        raise _unsupported(op, f"takes one tensor per process, got a list of {len(tensors)}")
    return _cpu_tensor(tensors[0], op)


def _red_op(opts, op):
    if opts is None:
        return _strata.RedOp.sum
    red = opts.reduceOp.op
    try:
        return _RED_OPS[int(red)]
    except KeyError:
        raise _unsupported(
            op, f"reduce op {red.name} is not supported (SUM, PRODUCT, MIN, MAX, AVG are)"
        ) from None


def _check_tag(tag, op):
    if tag != 0:
        raise _unsupported(
            op, f"tag {tag}: tags are not supported; messages between two ranks match in order"
        )


class ProcessGroupStrata(dist.ProcessGroup):
    """A torch.distributed process group whose operations run on a Strata communicator."""

    def __init__(self, store, rank, size, timeout):
        super().__init__(rank, size)
        if rank == 0:
            unique_id = _fresh_unique_id()
            store.set(_UNIQUE_ID_KEY, unique_id)
        else:
            unique_id = store.get(_UNIQUE_ID_KEY)
        config = None
        if "STRATA_TIMEOUT_MS" not in os.environ and timeout is not None:
            config = _strata.Config(timeout_ms=int(timeout.total_seconds() * 1000))
        self._comm = _strata.Comm(size, unique_id, rank, config)
        self._stream = _strata.Stream()
        self._completer = _FutureCompleter()

    @property
    def comm(self):
        """The group's strata.Comm."""
        return self._comm

    def getBackendName(self):
        return BACKEND

    def _issue(self, call, result):
        """Issues call(stream), a Strata call queued on stream (or run to completion here when
        stream is None), and returns its Work, whose result() is result."""
        caller = sys._getframe(2)
        if caller.f_globals.get("__name__") != _C10D_MODULE:
            # A Work that may reach C++ (DDP's reducer and its parameter checks, or any other
            # caller) must be a C++ one, since torch 1.13 drops a Python Work's overrides once
            # only C++ holds it: it wraps a future the completer thread fulfils.
            future = torch.futures.Future()
            self._completer.add(call(self._stream), future, result)
            return _create_work_from_future(future)
        # The torch.distributed functions keep the Work in Python. When they wait for it at
        # once (async_op=False, send, recv) and nothing is queued before it, the call runs
        # here, saving the round trip through the stream's thread.
        if (caller.f_code.co_name in _BLOCKING_FUNCTIONS or caller.f_locals.get("async_op") is False) \
                and self._stream.query():
            call(None)
            return _Work(_COMPLETED, result, self._completer)
        return _Work(call(self._stream), result, self._completer)

    def _quiesce(self):
        # Operations that copy their inputs on the calling thread first let earlier queued
        # operations finish writing them.
        if not self._stream.query():
            self._stream.synchronize()

    # Collectives ------------------------------------------------------------------------------

    def allreduce(self, tensors, opts=None):
        t = _one_tensor(tensors, "allreduce")
        red = _red_op(opts, "allreduce")
        return self._issue(lambda s: self._comm.all_reduce(t, None, red, stream=s), tensors)

    def allreduce_coalesced(self, tensors, opts=None):
        red = _red_op(opts, "allreduce_coalesced")
        for t in tensors:
            _cpu_tensor(t, "allreduce_coalesced")

        def call(s):
            with _group():
                return [self._comm.all_reduce(t, None, red, stream=s) for t in tensors][-1]

        return self._issue(call, tensors)

    def broadcast(self, tensors, opts=None):
        t = _one_tensor(tensors, "broadcast")
        root = opts.rootRank if opts is not None else 0
        return self._issue(lambda s: self._comm.broadcast(t, None, root, stream=s), tensors)

    def reduce(self, tensors, opts=None):
        t = _one_tensor(tensors, "reduce")
        red = _red_op(opts, "reduce")
        root = opts.rootRank if opts is not None else 0
        return self._issue(lambda s: self._comm.reduce(t, None, red, root, stream=s), tensors)

    def allgather(self, output_tensors, input_tensors, opts=None):
        t = _one_tensor(input_tensors, "allgather")
        outputs = _one_tensor_list(output_tensors, self.size(), "allgather")
        # The outputs are separate tensors: every rank sends its input to every rank.
        return self._issue(lambda s: self._exchange([t] * len(outputs), outputs, s), output_tensors)

    def _allgather_base(self, output, input, opts=None):
        _cpu_tensor(output, "_allgather_base")
        _cpu_tensor(input, "_allgather_base")
        return self._issue(lambda s: self._comm.all_gather(input, output, stream=s), [output])

    def reduce_scatter(self, output_tensors, input_tensors, opts=None):
        out = _one_tensor(output_tensors, "reduce_scatter")
        inputs = _one_tensor_list(input_tensors, self.size(), "reduce_scatter")
        red = _red_op(opts, "reduce_scatter")
        self._quiesce()
        flat = torch.cat([x.reshape(-1) for x in inputs])
        return self._issue(lambda s: self._comm.reduce_scatter(flat, out, red, stream=s), output_tensors)

    def _reduce_scatter_base(self, output, input, opts=None):
        _cpu_tensor(output, "_reduce_scatter_base")
        _cpu_tensor(input, "_reduce_scatter_base")
        red = _red_op(opts, "_reduce_scatter_base")
        return self._issue(lambda s: self._comm.reduce_scatter(input, output, red, stream=s), [output])

    def alltoall_base(self, output, input, output_split_sizes, input_split_sizes, opts=None):
        _cpu_tensor(output, "alltoall_base")
        _cpu_tensor(input, "alltoall_base")
        if not output_split_sizes and not input_split_sizes:
            return self._issue(lambda s: self._comm.all_to_all(input, output, stream=s), [output])
        send_counts = _split_counts(input, input_split_sizes, self.size())
        recv_counts = _split_counts(output, output_split_sizes, self.size())
        return self._issue(
            lambda s: self._comm.all_to_all_v(input, send_counts, output, recv_counts, stream=s),
            [output],
        )

    def alltoall(self, output_tensors, input_tensors, opts=None):
        n = self.size()
        if len(output_tensors) != n or len(input_tensors) != n:
            raise _unsupported("alltoall", f"needs {n} input and {n} output tensors")
        for t in output_tensors + input_tensors:
            _cpu_tensor(t, "alltoall")
        return self._issue(lambda s: self._exchange(input_tensors, output_tensors, s), output_tensors)

    def gather(self, output_tensors, input_tensors, opts):
        t = _one_tensor(input_tensors, "gather")
        root = opts.rootRank
        if self.rank() != root:
            return self._issue(lambda s: self._comm.gather(t, None, root, stream=s), output_tensors)
        outputs = _one_tensor_list(output_tensors, self.size(), "gather")
        _same_blocks(outputs, t, "gather", "outputs", "input")
        whole = _spanning_tensor(outputs)
        if whole is not None:  # consecutive blocks of one tensor: gathered in place
            return self._issue(lambda s: self._comm.gather(t, whole, root, stream=s), output_tensors)
        # Separate outputs: gathered into one buffer, then copied out. The stream cannot run the
        # copies after the call, so the root's call completes here, after those queued before it.
        def call(s):
            staging = torch.empty(self.size() * t.numel(), dtype=t.dtype)
            self._quiesce()
            self._comm.gather(t, staging, root)
            for out, block in zip(outputs, staging.chunk(self.size())):
                out.copy_(block.view(out.shape))
            return _COMPLETED

        return self._issue(call, output_tensors)

    def scatter(self, output_tensors, input_tensors, opts):
        out = _one_tensor(output_tensors, "scatter")
        root = opts.rootRank
        if self.rank() != root:
            return self._issue(lambda s: self._comm.scatter(None, out, root, stream=s), output_tensors)
        inputs = _one_tensor_list(input_tensors, self.size(), "scatter")
        _same_blocks(inputs, out, "scatter", "inputs", "output")
        whole = _spanning_tensor(inputs)
        if whole is None:
            self._quiesce()
            whole = torch.cat([x.reshape(-1) for x in inputs])
        return self._issue(lambda s: self._comm.scatter(whole, out, root, stream=s), output_tensors)

    def barrier(self, opts=None):
        return self._issue(lambda s: self._comm.barrier(stream=s), [])

    def _exchange(self, sends, recvs, stream):
        """sends[j] to rank j and recvs[i] from rank i, in one group; returns the last request."""
        with _group():
            for peer in range(self.size()):
                self._comm.send(sends[peer], peer, stream=stream)
                request = self._comm.recv(recvs[peer], peer, stream=stream)
        return request

    # Point to point ---------------------------------------------------------------------------

    def send(self, tensors, dstRank, tag=0):
        _check_tag(tag, "send")
        t = _one_tensor(tensors, "send")
        return self._issue(lambda s: self._comm.send(t, dstRank, stream=s), tensors)

    def recv(self, tensors, srcRank, tag=0):
        _check_tag(tag, "recv")
        t = _one_tensor(tensors, "recv")
        return self._issue(lambda s: self._comm.recv(t, srcRank, stream=s), tensors)

    def recv_anysource(self, tensors, tag=0):
        raise _unsupported("recv_anysource", "receiving from any source is not supported; pass src")

    # batch_isend_irecv: the batch is one Strata group, so its sends and receives cannot deadlock.

    def _start_coalescing(self):
        _strata.group_start()

    def _end_coalescing(self, reqs=None):
        _strata.group_end()


class _group:
    """strata.group() without the contextlib overhead on the per-call path."""

    __slots__ = ()

    def __enter__(self):
        _strata.group_start()

    def __exit__(self, *exc):
        _strata.group_end()


def _one_tensor_list(tensor_lists, n, op):
    if len(tensor_lists) != 1:
        raise _unsupported(op, f"takes one tensor list per process, got {len(tensor_lists)}")
    tensors = tensor_lists[0]
    if len(tensors) != n:
        raise _unsupported(op, f"needs one tensor per rank ({n}), got {len(tensors)}")
    for t in tensors:
        _cpu_tensor(t, op)
    return tensors


def _same_blocks(tensors, like, op, what, other):
    """Gather's and Scatter's root: one block per rank, each of like's type and size."""
    for t in tensors:
        if t.dtype != like.dtype or t.numel() != like.numel():
            raise _unsupported(
                op, f"the {what} must each have the {other}'s type and size ({like.dtype}, "
                f"{like.numel()} elements), got {t.dtype}, {t.numel()} elements")


def _spanning_tensor(blocks):
    """A flat tensor over blocks when they are consecutive contiguous blocks of one storage (as
    torch.chunk makes them), else None."""
    first = blocks[0]
    step = first.numel() * first.element_size()
    if step == 0:
        return None
    storage = first.storage()
    for i, b in enumerate(blocks):
        if (not b.is_contiguous() or b.storage().data_ptr() != storage.data_ptr()
                or b.data_ptr() != first.data_ptr() + i * step):
            return None
    flat = torch.empty(0, dtype=first.dtype)
    return flat.set_(storage, first.storage_offset(), (len(blocks) * first.numel(),))


def _split_counts(t, split_sizes, n):
    """Element counts per rank from split sizes along dim 0 (equal splits when empty)."""
    if not split_sizes:
        return [t.numel() // n] * n
    row = t.numel() // t.size(0) if t.dim() > 0 and t.size(0) else 1
    return [s * row for s in split_sizes]


def _fresh_unique_id():
    """A unique id with its own root listener and random secret. With STRATA_COMM_ID set (as
    under strata-run), strataGetUniqueId would describe that one fixed address instead, which
    every process group of the job would then share."""
    comm_id = os.environ.pop("STRATA_COMM_ID", None)
    try:
        return _strata.get_unique_id()
    finally:
        if comm_id is not None:
            os.environ["STRATA_COMM_ID"] = comm_id


def _create_process_group(store, rank, size, timeout):
    return ProcessGroupStrata(store, rank, size, timeout)


if not hasattr(dist.Backend, BACKEND.upper()):
    dist.Backend.register_backend(BACKEND, _create_process_group)
