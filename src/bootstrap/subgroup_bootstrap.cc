#include "bootstrap/subgroup_bootstrap.h"

#include <algorithm>

namespace strata {

SubgroupBootstrap::SubgroupBootstrap(Bootstrap& parent, std::vector<int> members)
    : parent_(parent), members_(std::move(members)) {
  auto it = std::find(members_.begin(), members_.end(), parent_.rank());
  if (it != members_.end()) rank_ = static_cast<int>(it - members_.begin());
}

Result<std::vector<std::string>> SubgroupBootstrap::allgather(const std::string& mine) {
  if (rank_ < 0)
    return makeError(strataInternalError, "subgroup bootstrap: rank %d is not a member",
                     parent_.rank());
  auto all = parent_.allgather(mine);
  if (!all.isOk()) return all.status();
  std::vector<std::string> out;
  out.reserve(members_.size());
  for (int r : members_) {
    if (r < 0 || r >= parent_.size())
      return makeError(strataInternalError, "subgroup bootstrap: member %d outside 0..%d", r,
                       parent_.size() - 1);
    out.push_back(std::move(all.value()[static_cast<size_t>(r)]));
  }
  return out;
}

Status SubgroupBootstrap::checkPeer(int peer, const char* what) const {
  if (peer < 0 || peer >= size())
    return makeError(strataInvalidArgument, "subgroup bootstrap %s: peer %d is outside 0..%d", what,
                     peer, size() - 1);
  return Status::ok();
}

Status SubgroupBootstrap::send(int peer, int tag, const std::string& data) {
  STRATA_CHECK(checkPeer(peer, "send"));
  return parent_.send(members_[static_cast<size_t>(peer)], tag, data);
}

Result<std::string> SubgroupBootstrap::recv(int peer, int tag) {
  STRATA_CHECK(checkPeer(peer, "recv"));
  return parent_.recv(members_[static_cast<size_t>(peer)], tag);
}

Result<std::string> SubgroupBootstrap::newChildId() {
  return makeError(strataInvalidUsage, "subgroup bootstrap: communicators cannot split from it");
}

Result<std::unique_ptr<Bootstrap>> SubgroupBootstrap::joinChild(const std::string&, int, int) {
  return makeError(strataInvalidUsage, "subgroup bootstrap: communicators cannot split from it");
}

}  // namespace strata
