"""The exceptions Strata raises: one StrataError subclass per result code of the C API."""


class StrataError(Exception):
    """A Strata call failed.

    Attributes:
        code: the strata.Result of the failed call.
        last_error: the library's message for it (strataGetLastError), naming the argument,
            the peer rank or the operation; empty when the binding itself rejected the call.
    """

    def __init__(self, code, message, last_error=""):
        super().__init__(message)
        from ._strata import Result

        self.code = Result(code)
        self.last_error = last_error


class SystemCallError(StrataError):
    """A system call or allocation failed (strataSystemError)."""


class InternalError(StrataError):
    """A bug inside Strata (strataInternalError)."""


class InvalidArgumentError(StrataError, ValueError):
    """An argument was wrong by itself (strataInvalidArgument): a buffer that is not contiguous,
    is read-only where it must be written, or has the wrong size or type."""


class InvalidUsageError(StrataError):
    """The call was valid alone but not now (strataInvalidUsage), e.g. on a failed communicator."""


class RemoteError(StrataError):
    """A peer failed, exited or aborted (strataRemoteError)."""


class TimeoutError(StrataError):  # noqa: A001 - strata.TimeoutError, as asyncio.TimeoutError
    """A wait made no progress for the timeout (strataTimeout)."""


class InProgressError(StrataError):
    """A nonblocking operation has not completed (strataInProgress)."""


_BY_CODE = {
    2: SystemCallError,
    3: InternalError,
    4: InvalidArgumentError,
    5: InvalidUsageError,
    6: RemoteError,
    7: InProgressError,
    8: TimeoutError,
}


def error_class(code):
    """The exception class for a strataResult_t value."""
    return _BY_CODE.get(code, StrataError)
