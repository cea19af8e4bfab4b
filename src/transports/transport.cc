#include "transports/transport.h"

namespace strata {

Status Transport::registerWindow(int id, void*, size_t) {
  return makeError(strataInvalidUsage,
                   "transport %s has no one-sided writes: window %d cannot be registered", name(),
                   id);
}

Status Transport::put(int peer, int window, size_t, const std::byte*, size_t bytes) {
  return makeError(strataInvalidUsage,
                   "transport %s has no one-sided writes: a put of %zu bytes to rank %d's "
                   "window %d needs a transport that has them (sim), or send/recv",
                   name(), bytes, peer, window);
}

}  // namespace strata
