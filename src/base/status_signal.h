// SIGUSR1 asks a rank what it is waiting for. The handler only counts the request (async-signal-
// safe); every wait of the executor notices the count change on its next idle pass and prints its
// communicator's state to stderr (executor.cc). Installed once, at the first communicator's init,
// chaining whatever handler was there before; STRATA_SIGUSR1=0 leaves SIGUSR1 to the application.
#pragma once

#include <cstdint>

namespace strata {

// Installs the handler unless STRATA_SIGUSR1=0 or it is installed already. Thread-safe.
void installStatusSignal();

// How many status requests (SIGUSR1) the process has received.
uint64_t statusRequests();

}  // namespace strata
