// A bootstrap over a subgroup of a parent bootstrap's ranks: lets each host's ranks set up their
// shared-memory transport while the ranks of other hosts do the same for theirs.
//
// Collective operations still run over the whole parent: every parent rank must make the same
// sequence of calls, each on its own subgroup, and the subgroups must partition the parent.
// Point-to-point messages go straight through the parent.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bootstrap/bootstrap.h"

namespace strata {

class SubgroupBootstrap final : public Bootstrap {
 public:
  // members: parent ranks in ascending order, the parent's own rank among them.
  SubgroupBootstrap(Bootstrap& parent, std::vector<int> members);

  int rank() const override { return rank_; }
  int size() const override { return static_cast<int>(members_.size()); }
  Result<std::vector<std::string>> allgather(const std::string& mine) override;
  Status send(int peer, int tag, const std::string& data) override;
  Result<std::string> recv(int peer, int tag) override;
  // Subgroups serve transport setup only; communicators split from the parent.
  Result<std::string> newChildId() override;
  Result<std::unique_ptr<Bootstrap>> joinChild(const std::string& id, int rank,
                                               int nranks) override;
  // The parent's flag stays in charge.
  void setAbortFlag(const AbortFlag*) override {}

 private:
  Status checkPeer(int peer, const char* what) const;

  Bootstrap& parent_;
  std::vector<int> members_;
  int rank_ = -1;
};

}  // namespace strata
