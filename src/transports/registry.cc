#include "transports/registry.h"

#include "transports/shm/shm_transport.h"

namespace strata {
namespace {

using Factory = Result<std::unique_ptr<Transport>> (*)(Bootstrap&, const std::vector<PeerInfo>&,
                                                       const TransportOptions&);

struct Entry {
  const char* name;
  Factory connect;
};

Result<std::unique_ptr<Transport>> connectShm(Bootstrap& bs, const std::vector<PeerInfo>& peers,
                                              const TransportOptions& opts) {
  ShmOptions shm;
  shm.timeoutMs = opts.timeoutMs;
  shm.abort = opts.abort;
  return createShmTransport(bs, peers, shm);
}

const Entry kTransports[] = {
    {"shm", connectShm},
};

}  // namespace

std::string builtTransports() {
  std::string out;
  for (const Entry& e : kTransports) out += (out.empty() ? "" : ", ") + std::string(e.name);
  return out;
}

Result<std::unique_ptr<Transport>> connectTransport(Bootstrap& bs,
                                                    const std::vector<PeerInfo>& peers,
                                                    const TransportOptions& opts) {
  const std::string want = opts.name.empty() ? "shm" : opts.name;
  for (const Entry& e : kTransports)
    if (want == e.name) return e.connect(bs, peers, opts);
  return makeError(strataInvalidArgument,
                   "transport '%s' was asked for but is not built into this library (built: %s)",
                   want.c_str(), builtTransports().c_str());
}

}  // namespace strata
