// SIGUSR1 asks a rank what it is waiting for. The handler only counts the request and writes a
// byte to a pipe (both async-signal-safe); every wait of the executor notices the count change on
// its next idle pass and reports its communicator's state (executor.cc), and a watcher thread
// reads the pipe and reports the communicators that are idle (runtime/status_reporter.cc).
// Installed once, at the first communicator's init, chaining whatever handler was there before;
// STRATA_SIGUSR1=0 leaves SIGUSR1 to the application.
//
// Reports go to stderr and are appended to statusFilePath(getpid()) (0600, created by this
// process's user), where `strata-info status PID` reads them.
#pragma once

#include <cstdint>
#include <string>

namespace strata {

// Installs the handler unless STRATA_SIGUSR1=0 or it is installed already. Thread-safe.
void installStatusSignal();

// How many status requests (SIGUSR1) the process has received.
uint64_t statusRequests();

// Blocks until the next status request; false when requests are not delivered (the handler is
// not installed), so there is nothing to wait for.
bool waitStatusRequest();

// Writes one report (whole lines) to stderr and appends it to this process's status file.
void emitStatus(const std::string& report);

// Where process `pid` appends its status reports: /tmp/strata-status-<pid>.
std::string statusFilePath(long pid);

}  // namespace strata
