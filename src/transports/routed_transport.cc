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

// Both halves are asked: a peer on this host that aborted because a rank on another host died
// must not hide the dead rank.
Status RoutedTransport::checkPeers() {
  Status local = local_->checkPeers();
  Status network = network_->checkPeers();
  if (local.isOk()) return network;
  if (network.isOk()) return local;
  const bool localAbortOnly = local.message().find(" aborted") != std::string::npos;
  const bool networkAbortOnly = network.message().find(" aborted") != std::string::npos;
  return localAbortOnly && !networkAbortOnly ? network : local;
}

// Either half's notice carries whom either half blamed: a rank on this host that aborted
// because a rank on another host died names the dead one to both.
void RoutedTransport::markAborted() {
  if (int c = culprit(); c >= 0) noteCulprit(c);
  local_->markAborted();
  network_->markAborted();
}

int RoutedTransport::culprit() const {
  const int local = local_->culprit();
  return local >= 0 ? local : network_->culprit();
}

void RoutedTransport::noteCulprit(int rank) {
  local_->noteCulprit(rank);
  network_->noteCulprit(rank);
}

std::string RoutedTransport::describeStoppedPeers() { return local_->describeStoppedPeers(); }

}  // namespace strata
