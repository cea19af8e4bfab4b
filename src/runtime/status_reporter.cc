#include "runtime/status_reporter.h"

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/status_signal.h"
#include "runtime/comm.h"

namespace strata {
namespace {

// Never freed: the watcher thread may still wake after static destructors have run.
struct Watched {
  std::mutex mutex;
  std::vector<Comm*> comms;
  bool started = false;
};

Watched& watched() {
  static Watched* w = new Watched;
  return *w;
}

// A communicator whose exec mutex is free runs no call: its state is its last completed op.
void reportIdle(Comm* comm) {
  std::unique_lock<std::mutex> exec(comm->execMutex(), std::try_to_lock);
  if (!exec.owns_lock()) return;  // a call holds it: the executor reports it
  const char* state = comm->asyncState() == strataInProgress ? "initialising" : "none pending";
  emitStatus(format("strata status: %s: last completed op #%llu, %s, %d queued on streams\n",
                    comm->label().c_str(),
                    static_cast<unsigned long long>(comm->run().completedSeq()), state,
                    comm->pending().load()));
}

void watch() {
  while (waitStatusRequest()) {
    Watched& w = watched();
    std::lock_guard<std::mutex> lock(w.mutex);
    for (Comm* c : w.comms) reportIdle(c);
  }
}

}  // namespace

void watchForStatus(Comm* comm) {
  Watched& w = watched();
  std::lock_guard<std::mutex> lock(w.mutex);
  w.comms.push_back(comm);
  if (!w.started) {
    w.started = true;
    std::thread(watch).detach();
  }
}

void unwatchForStatus(Comm* comm) {
  Watched& w = watched();
  std::lock_guard<std::mutex> lock(w.mutex);
  w.comms.erase(std::remove(w.comms.begin(), w.comms.end(), comm), w.comms.end());
}

}  // namespace strata
