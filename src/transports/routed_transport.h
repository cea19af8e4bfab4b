// RoutedTransport: peers on this rank's host go through one transport (shared memory), every
// other peer through a network transport (UCX, libfabric). Hierarchical plans then use shared
// memory inside a host and the network between hosts without knowing either.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "transports/transport.h"

namespace strata {

class RoutedTransport final : public Transport {
 public:
  // `local` numbers its ranks by position in localRanks (global ranks in ascending order, this
  // rank among them); `network` numbers them globally and serves every rank not in localRanks.
  RoutedTransport(std::unique_ptr<Transport> local, const std::vector<int>& localRanks,
                  std::unique_ptr<Transport> network, int nranks);

  const char* name() const override { return name_.c_str(); }
  Endpoint& endpoint(int peer) override;
  Status checkPeers() override;
  void markAborted() override;
  void noteCulprit(int rank) override;
  int culprit() const override;
  std::string describeStoppedPeers() override;
  // The network is the slower hop, so plans pipeline at its granularity.
  size_t chunkBytes() const override { return network_->chunkBytes(); }
  LinkCost interHostCost() const override { return network_->interHostCost(); }

 private:
  std::unique_ptr<Transport> local_;
  std::unique_ptr<Transport> network_;
  std::vector<int> localIndex_;  // by global rank: position in localRanks, or -1
  std::string name_;
};

}  // namespace strata
