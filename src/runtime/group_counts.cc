#include "runtime/group_counts.h"

#include <algorithm>
#include <memory>

#include "plan/call_tag.h"
#include "runtime/comm.h"

namespace strata {

bool GroupCountExchange::prepare(Comm& comm, std::vector<CollArgs>& calls) {
  which_.clear();
  for (size_t i = 0; i < calls.size(); ++i)
    if (comm.planner().needsGroupCounts(calls[i])) which_.push_back(i);
  if (which_.empty()) return false;
  calls_ = &calls;
  const CommShape& shape = comm.planner().shape();
  const int me = shape.rank;
  nranks_ = static_cast<size_t>(shape.nranks);
  members_.clear();
  // A topology of one level: the group is every rank.
  for (int r = 0; r < shape.nranks; ++r)
    if (shape.level0Groups.empty() ||
        shape.level0Groups[static_cast<size_t>(r)] == shape.level0Groups[static_cast<size_t>(me)])
      members_.push_back(r);
  // Per call and rank, a row of its send counts then its send displacements.
  const size_t row = 2 * nranks_ * sizeof(uint64_t);
  const size_t L = members_.size();
  mine_.assign(which_.size() * 2 * nranks_, 0);
  theirs_.assign(which_.size() * L * 2 * nranks_, 0);
  auto plan = std::make_shared<Plan>();
  plan->algo = "group count exchange";
  plan->nranks = shape.nranks;
  PlanBuilder pb(*plan);
  for (size_t c = 0; c < which_.size(); ++c) {
    const std::vector<size_t>& counts = calls[which_[c]].sendcounts;
    const std::vector<size_t>& displs = calls[which_[c]].sdispls;
    std::copy(counts.begin(), counts.end(), mine_.begin() + static_cast<long>(2 * c * nranks_));
    std::copy(displs.begin(), displs.end(),
              mine_.begin() + static_cast<long>((2 * c + 1) * nranks_));
    for (size_t j = 0; j < L; ++j) {
      const size_t at = (c * L + j) * row;
      if (members_[j] == me) {
        pb.copy(sendAt(c * row), recvAt(at), row);
        continue;
      }
      pb.send(members_[j], sendAt(c * row), row);
      pb.recv(members_[j], recvAt(at), row);
    }
  }
  pb.finish();
  run_.reset(comm.runContext());
  RunItem item;
  item.plan = std::move(plan);
  item.bases[kSendBuf] = reinterpret_cast<std::byte*>(mine_.data());
  item.bases[kRecvBuf] = reinterpret_cast<std::byte*>(theirs_.data());
  item.collName = "AllToAllv group count exchange";
  item.call = CallTag{0, static_cast<uint8_t>(CallKind::kGroupCounts)}.pack();
  run_.items().push_back(std::move(item));
  run_.start();
  return true;
}

void GroupCountExchange::deliver() {
  const size_t L = members_.size();
  for (size_t c = 0; c < which_.size(); ++c) {
    CollArgs& call = (*calls_)[which_[c]];
    call.groupSendCounts.clear();
    call.groupSendDispls.clear();
    for (size_t j = 0; j < L; ++j) {
      const auto rowStart = theirs_.begin() + static_cast<long>((c * L + j) * 2 * nranks_);
      const auto mid = rowStart + static_cast<long>(nranks_);
      call.groupSendCounts.insert(call.groupSendCounts.end(), rowStart, mid);
      call.groupSendDispls.insert(call.groupSendDispls.end(), mid, mid + static_cast<long>(nranks_));
    }
  }
}

Status runGroupCountExchanges(GroupCountExchange* const* exchanges, size_t count) {
  std::vector<PlanRun*> runs;
  for (size_t i = 0; i < count; ++i) runs.push_back(&exchanges[i]->run());
  STRATA_CHECK(runToCompletion(runs.data(), runs.size()));
  for (size_t i = 0; i < count; ++i) exchanges[i]->deliver();
  return Status::ok();
}

}  // namespace strata
