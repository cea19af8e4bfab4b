#include "moe/moe_window.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "base/logging.h"
#include "transports/shm/shared_allocation.h"

namespace strata {
namespace {

constexpr const char* kCreate = "strataMoeBufferCreate";

// Whether this rank may take the direct path: STRATA_MOE_DIRECT unset or 1; 0 turns it off.
Result<bool> directWanted() {
  const char* v = std::getenv("STRATA_MOE_DIRECT");
  if (v == nullptr || *v == '\0' || std::strcmp(v, "1") == 0) return true;
  if (std::strcmp(v, "0") == 0) return false;
  return makeError(strataInvalidArgument, "%s: STRATA_MOE_DIRECT='%s' is neither 0 nor 1", kCreate,
                   v);
}

// What a rank announces at creation: whether it wants the direct path, and its shape (every
// rank must lay its slots out alike, or a sender would write past a peer's slot).
std::string announcement(bool wanted, const MoeShape& s) {
  return format("%d %zu %zu %d %d %d %d %d %d", wanted ? 1 : 0, s.maxTokens, s.hidden, s.topk,
                s.numExperts, s.numSlots, static_cast<int>(s.dtype),
                static_cast<int>(s.dispatchQuant), static_cast<int>(s.combineQuant));
}

// The FIFO path: no window.
std::unique_ptr<MoeWindow> fifoPath() { return nullptr; }

}  // namespace

Result<std::unique_ptr<MoeWindow>> MoeWindow::create(Comm& comm, const MoeShape& shape) {
  STRATA_ASSIGN(bool wanted, directWanted());
  // The same on every rank: the transport and the hosts are the communicator's.
  if (comm.nranks() < 2 || std::strcmp(comm.transport().name(), "shm") != 0) return fifoPath();
  const std::vector<PeerInfo>& peers = comm.peers();
  for (const PeerInfo& p : peers)
    if (p.hostId != peers.front().hostId) return fifoPath();
  const std::string mine = announcement(wanted, shape);
  STRATA_ASSIGN(std::vector<std::string> all, comm.bootstrap().allgather(mine));
  for (const std::string& a : all) {
    if (a == mine && wanted) continue;
    STRATA_INFO(Subsys::kColl, "%s: MoE buffer without direct puts (%s)", comm.label().c_str(),
                a.rfind("0 ", 0) == 0 || !wanted ? "STRATA_MOE_DIRECT=0 on a rank"
                                                 : "the ranks' shapes differ");
    return fifoPath();
  }
  const size_t n = static_cast<size_t>(shape.nranks);
  const size_t combineOffset = n * shape.dispatchSlotBytes();
  const size_t bytes = combineOffset + n * shape.combineSlotBytes();
  STRATA_ASSIGN(void* memory, sharedAlloc(bytes));
  FdWait wait{Deadline::afterMs(comm.config().timeoutMs), &comm.abortFlag()};
  Result<std::unique_ptr<Window>> w =
      mapWindow(comm.bootstrap(), peers, memory, bytes, wait, kCreate);
  if (!w.isOk()) {
    (void)sharedFree(memory);
    return w.status();
  }
  STRATA_INFO(Subsys::kColl, "%s: MoE buffer with direct puts: %zu bytes of receive slots",
              comm.label().c_str(), bytes);
  return std::unique_ptr<MoeWindow>(new MoeWindow(memory, std::move(w).value(), combineOffset));
}

MoeWindow::~MoeWindow() {
  window_.reset();  // unmaps the peers' allocations
  (void)sharedFree(memory_);
}

PlanPtr moeDirectRoundPlan(const char* algo, int me, int nranks,
                           const std::vector<MoeTransfer>& sends,
                           const std::vector<MoeTransfer>& recvs) {
  auto plan = std::make_shared<Plan>();
  plan->algo = algo;
  plan->nranks = nranks;
  PlanBuilder b(*plan, strataUint8);
  bool any = false;
  for (int i = 1; i < nranks; ++i) {
    const int to = (me + i) % nranks;
    if (sends[static_cast<size_t>(to)].bytes == 0) continue;
    b.signal(to, kMoeDataChannel);
    any = true;
  }
  for (int i = 1; i < nranks; ++i) {
    const int from = (me - i + nranks) % nranks;
    const MoeTransfer& r = recvs[static_cast<size_t>(from)];
    if (r.bytes == 0) continue;
    b.wait(from, kMoeDataChannel, r.bytes);
    any = true;
  }
  b.finish();
  if (!any) return nullptr;
  return plan;
}

PlanPtr moeSyncPlan(const char* algo, int me, int nranks) {
  auto plan = std::make_shared<Plan>();
  plan->algo = algo;
  plan->nranks = nranks;
  PlanBuilder b(*plan, strataUint8);
  for (int i = 1; i < nranks; ++i) b.signal((me + i) % nranks, kMoeSyncChannel);
  for (int i = 1; i < nranks; ++i) b.wait((me - i + nranks) % nranks, kMoeSyncChannel);
  b.finish();
  return plan;
}

}  // namespace strata
