// Status requests (SIGUSR1, base/status_signal.h) for communicators that are not inside a call:
// a waiting call reports itself from the executor, an idle communicator is reported by a watcher
// thread, so every communicator of the process answers a request. The thread starts with the
// first watched communicator and blocks on the request pipe; it never runs otherwise.
#pragma once

namespace strata {

class Comm;

// Reports `comm` on status requests while it is idle, until unwatchForStatus.
void watchForStatus(Comm* comm);
// Stops reporting `comm`; returns once no report of it is being written.
void unwatchForStatus(Comm* comm);

}  // namespace strata
