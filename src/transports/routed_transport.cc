#include "transports/routed_transport.h"

namespace strata {

RoutedTransport::RoutedTransport(std::unique_ptr<Transport> local,
                                 const std::vector<int>& localRanks,
                                 std::unique_ptr<Transport> network, int nranks)
    : local_(std::move(local)),
      network_(std::move(network)),
      localIndex_(static_cast<size_t>(nranks), -1),
      name_(std::string(local_->name()) + "+" + network_->name()) {
  for (size_t i = 0; i < localRanks.size(); ++i)
    localIndex_[static_cast<size_t>(localRanks[i])] = static_cast<int>(i);
}

Endpoint& RoutedTransport::endpoint(int peer) {
  const int local = localIndex_[static_cast<size_t>(peer)];
  return local >= 0 ? local_->endpoint(local) : network_->endpoint(peer);
}

Status RoutedTransport::checkPeers() {
  STRATA_CHECK(local_->checkPeers());
  return network_->checkPeers();
}

void RoutedTransport::markAborted() {
  local_->markAborted();
  network_->markAborted();
}

}  // namespace strata
