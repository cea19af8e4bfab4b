#include "bootstrap/inprocess_bootstrap.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <tuple>
#include <utility>

#include "base/logging.h"
#include "bootstrap/rescue.h"

namespace strata {
namespace {

// How often a wait wakes up to look at the abort flag, which has no way to notify the condvar.
constexpr std::chrono::milliseconds kAbortPollInterval{10};

std::string randomHex128() {
  std::random_device rd;
  std::string out;
  out.reserve(32);
  static const char kDigits[] = "0123456789abcdef";
  for (int word = 0; word < 4; ++word) {
    uint32_t v = rd();
    for (int nibble = 0; nibble < 8; ++nibble, v >>= 4) out.push_back(kDigits[v & 0xf]);
  }
  return out;
}

std::string joinRanks(const std::vector<int>& ranks) {
  std::string out;
  for (int r : ranks) {
    if (!out.empty()) out += ", ";
    out += std::to_string(r);
  }
  return out;
}

// The state every rank of one in-process group shares.
class InProcessGroup {
 public:
  InProcessGroup(int nranks, const BootstrapOptions& opts)
      : nranks_(nranks), opts_(opts), joined_(static_cast<size_t>(nranks), false) {}

  int size() const { return nranks_; }
  const BootstrapOptions& options() const { return opts_; }

  // `abort` is the calling rank's own flag (ranks of one group belong to different communicators).
  Result<std::vector<std::string>> allgather(int rank, uint64_t round, const std::string& mine,
                                             const AbortFlag* abort) {
    std::unique_lock<std::mutex> lock(mu_);
    Round& r = rounds_[round];
    if (r.blobs.empty()) {
      r.blobs.resize(static_cast<size_t>(nranks_));
      r.arrived.assign(static_cast<size_t>(nranks_), false);
    }
    r.blobs[static_cast<size_t>(rank)] = mine;
    r.arrived[static_cast<size_t>(rank)] = true;
    ++r.count;
    if (r.count == nranks_) cv_.notify_all();

    std::string op =
        format("allgather (round %llu) on rank %d", static_cast<unsigned long long>(round), rank);
    Status s = waitLocked(abort,
        lock, op, [&] { return r.count == nranks_; },
        [&] {
          std::vector<int> missing;
          for (int i = 0; i < nranks_; ++i)
            if (!r.arrived[static_cast<size_t>(i)]) missing.push_back(i);
          return missing;
        });
    if (!s.isOk()) return s;
    std::vector<std::string> all = r.blobs;
    if (++r.collected == nranks_) rounds_.erase(round);
    return all;
  }

  Status send(int src, int dst, int tag, const std::string& data) {
    std::lock_guard<std::mutex> lock(mu_);
    queues_[{src, dst, tag}].push_back(data);
    cv_.notify_all();
    return Status::ok();
  }

  Result<std::string> recv(int src, int dst, int tag, const AbortFlag* abort) {
    std::unique_lock<std::mutex> lock(mu_);
    auto key = std::make_tuple(src, dst, tag);
    std::string op = format("recv (tag %d) on rank %d from rank %d", tag, dst, src);
    Status s = waitLocked(abort,
        lock, op,
        [&] {
          auto it = queues_.find(key);
          return it != queues_.end() && !it->second.empty();
        },
        [&] { return std::vector<int>{src}; });
    if (!s.isOk()) return s;
    auto it = queues_.find(key);
    std::string data = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) queues_.erase(it);
    return data;
  }

  // Records that `rank` joined; true once every member has.
  Result<bool> join(int rank) {
    std::lock_guard<std::mutex> lock(mu_);
    if (joined_[static_cast<size_t>(rank)])
      return makeError(strataInvalidArgument,
                       "in-process bootstrap: rank %d joined the same child group twice", rank);
    joined_[static_cast<size_t>(rank)] = true;
    return ++joinedCount_ == nranks_;
  }

 private:
  struct Round {
    std::vector<std::string> blobs;
    std::vector<bool> arrived;
    int count = 0;
    int collected = 0;
  };

  // Waits on the condvar until ready() holds, the deadline passes or the abort flag is raised.
  template <typename Ready, typename Missing>
  Status waitLocked(const AbortFlag* abort, std::unique_lock<std::mutex>& lock, const std::string& op, Ready ready,
                    Missing missing) {
    Deadline deadline = Deadline::afterMs(opts_.timeoutMs);
    while (!ready()) {
      if (abort != nullptr && abort->load(std::memory_order_acquire))
        return makeError(strataRemoteError, "in-process bootstrap: %s aborted", op.c_str());
      if (deadline.expired())
        return makeError(
            strataTimeout,
            "in-process bootstrap: %s timed out after %ld ms; still missing rank(s) %s", op.c_str(),
            deadline.timeoutMs(), joinRanks(missing()).c_str());
      auto wakeAt = Deadline::Clock::now() + kAbortPollInterval;
      if (deadline.bounded()) wakeAt = std::min(wakeAt, deadline.at());
      cv_.wait_until(lock, wakeAt);
    }
    return Status::ok();
  }

  const int nranks_;
  BootstrapOptions opts_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Round> rounds_;
  std::map<std::tuple<int, int, int>, std::deque<std::string>> queues_;
  std::vector<bool> joined_;
  int joinedCount_ = 0;
};

// Child groups by id, from newChildId (or the first joiner) until every member has joined.
struct ChildRegistry {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<InProcessGroup>> groups;  // null until the first join
};

ChildRegistry& childRegistry() {
  // Never destroyed: bootstraps may outlive static destruction order in exiting programs.
  static ChildRegistry* registry = new ChildRegistry;
  return *registry;
}

class InProcessBootstrap;

// The member `rank` of child group `id` of nranks ranks, created by its first joiner with opts.
Result<std::unique_ptr<Bootstrap>> joinGroup(const std::string& id, int rank, int nranks,
                                             const BootstrapOptions& opts);

class InProcessBootstrap final : public Bootstrap {
 public:
  InProcessBootstrap(std::shared_ptr<InProcessGroup> group, int rank)
      : group_(std::move(group)), rank_(rank), abort_(group_->options().abort) {}

  int rank() const override { return rank_; }
  int size() const override { return group_->size(); }

  Result<std::vector<std::string>> allgather(const std::string& mine) override {
    return group_->allgather(rank_, round_++, mine, abort_);
  }

  Status send(int peer, int tag, const std::string& data) override {
    STRATA_CHECK(checkPeer("send", peer));
    return group_->send(rank_, peer, tag, data);
  }

  Result<std::string> recv(int peer, int tag) override {
    STRATA_CHECK(checkPeer("recv", peer));
    return group_->recv(peer, rank_, tag, abort_);
  }

  Result<std::string> newChildId() override {
    std::string id = "inproc-" + randomHex128();
    ChildRegistry& reg = childRegistry();
    std::lock_guard<std::mutex> lock(reg.mu);
    reg.groups.emplace(id, nullptr);
    return id;
  }

  void setAbortFlag(const AbortFlag* abort) override { abort_ = abort; }

  Result<std::unique_ptr<Bootstrap>> joinChild(const std::string& id, int rank,
                                               int nranks) override {
    return joinGroup(id, rank, nranks, group_->options());
  }

  Result<std::unique_ptr<Rescue>> openRescue() override;

 private:
  Status checkPeer(const char* op, int peer) const {
    if (peer < 0 || peer >= group_->size())
      return makeError(strataInvalidArgument,
                       "in-process bootstrap: %s on rank %d to peer %d, outside 0..%d", op, rank_,
                       peer, group_->size() - 1);
    return Status::ok();
  }

  std::shared_ptr<InProcessGroup> group_;
  const int rank_;
  const AbortFlag* abort_;
  uint64_t round_ = 0;
};

Result<std::unique_ptr<Bootstrap>> joinGroup(const std::string& id, int rank, int nranks,
                                             const BootstrapOptions& opts) {
  if (nranks <= 0 || rank < 0 || rank >= nranks)
    return makeError(strataInvalidArgument,
                     "in-process bootstrap: joinChild(%s) with rank %d of %d ranks", id.c_str(),
                     rank, nranks);
  ChildRegistry& reg = childRegistry();
  std::lock_guard<std::mutex> lock(reg.mu);
  std::shared_ptr<InProcessGroup>& slot = reg.groups[id];
  if (!slot) {
    slot = std::make_shared<InProcessGroup>(nranks, opts);
    STRATA_TRACE(Subsys::kBootstrap, "in-process child group %s created for %d ranks", id.c_str(),
                 nranks);
  } else if (slot->size() != nranks) {
    return makeError(strataInvalidArgument,
                     "in-process bootstrap: rank %d joins child group %s with %d ranks, but it "
                     "was created with %d",
                     rank, id.c_str(), nranks, slot->size());
  }
  std::shared_ptr<InProcessGroup> child = slot;
  Result<bool> complete = child->join(rank);
  if (!complete.isOk()) return complete.status();
  if (complete.value()) reg.groups.erase(id);
  auto bs = std::make_unique<InProcessBootstrap>(child, rank);
  bs->setAbortFlag(opts.abort);
  return std::unique_ptr<Bootstrap>(std::move(bs));
}

// Ranks as threads regroup under an id every survivor derives alike: the lowest survivor's
// token (which only this communicator's members learned) and the survivor list.
class InProcessRescue final : public Rescue {
 public:
  InProcessRescue() : token_(randomHex128()) {}
  std::string blob() const override { return "inproc " + token_; }
  Result<std::unique_ptr<Bootstrap>> regroup(const std::vector<std::string>& blobs,
                                             const std::vector<int>& survivors, int me,
                                             const BootstrapOptions& opts) override {
    const int newRank = static_cast<int>(
        std::find(survivors.begin(), survivors.end(), me) - survivors.begin());
    const std::string id = "inproc-shrink-" + blobs[static_cast<size_t>(survivors.front())] +
                           "-" + rankListString(survivors);
    return joinGroup(id, newRank, static_cast<int>(survivors.size()), opts);
  }

 private:
  std::string token_;
};

Result<std::unique_ptr<Rescue>> InProcessBootstrap::openRescue() {
  return std::unique_ptr<Rescue>(std::make_unique<InProcessRescue>());
}

}  // namespace

std::vector<std::unique_ptr<Bootstrap>> createInProcessBootstraps(int nranks,
                                                                  const BootstrapOptions& opts) {
  std::vector<std::unique_ptr<Bootstrap>> out;
  if (nranks <= 0) return out;
  auto group = std::make_shared<InProcessGroup>(nranks, opts);
  out.reserve(static_cast<size_t>(nranks));
  for (int r = 0; r < nranks; ++r) out.push_back(std::make_unique<InProcessBootstrap>(group, r));
  return out;
}

}  // namespace strata
