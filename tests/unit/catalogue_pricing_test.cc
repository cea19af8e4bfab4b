// Every catalogue algorithm that supports a call on this host's shared-memory shape (forwarding,
// the 128 KiB chunk, windows and flag slots) is priced by the cost model: a candidate the phase
// walk cannot time is never picked by the model, however fast it runs. Rank counts 3, 4 and 7
// (odd, a power of two, neither), roots 0 and the last rank, sizes from one element to several
// chunks per rank.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "algorithms/algorithm.h"
#include "base/dtype.h"
#include "scheduler/selector.h"
#include "transports/shm/shm_channel.h"

namespace strata {
namespace {

bool rooted(CollType c) {
  return c == CollType::kBroadcast || c == CollType::kReduce || c == CollType::kGather ||
         c == CollType::kScatter;
}

// A float32 call of about `bytes` (per rank where the collective counts per rank), with the
// count arrays of the v-collectives filled alike on every rank.
CollArgs callOf(CollType coll, size_t bytes, int n, int root, bool windowed) {
  CollArgs a;
  a.coll = coll;
  a.dtype = strataFloat32;
  a.root = root;
  a.windowed = windowed;
  a.count = coll == CollType::kBarrier ? 0 : std::max<size_t>(1, bytes / 4);
  const size_t nr = static_cast<size_t>(n);
  if (coll == CollType::kAllGatherv) {
    for (size_t r = 0; r < nr; ++r) {
      a.recvcounts.push_back(a.count);
      a.rdispls.push_back(r * a.count);
    }
  }
  if (coll == CollType::kAllToAllv) {
    for (size_t r = 0; r < nr; ++r) {
      a.sendcounts.push_back(a.count);
      a.recvcounts.push_back(a.count);
      a.sdispls.push_back(r * a.count);
      a.rdispls.push_back(r * a.count);
    }
  }
  return a;
}

TEST(CataloguePricing, EverySupportingAlgorithmIsPricedOnSharedMemory) {
  const CollType colls[] = {CollType::kAllReduce,     CollType::kBroadcast, CollType::kReduce,
                            CollType::kAllGather,     CollType::kAllGatherv,
                            CollType::kReduceScatter, CollType::kAllToAll, CollType::kAllToAllv,
                            CollType::kBarrier,       CollType::kGather,    CollType::kScatter};
  std::map<std::string, int> priced;  // "collective/algorithm" -> calls priced
  for (int n : {3, 4, 7}) {
    for (bool windowed : {false, true}) {
      CommShape s;
      s.nranks = n;  // forwarding and the 128 KiB chunk: the shm defaults
      s.windows = windowed;
      s.flagBytes = shm::kFlagBytes;
      const SelectionContext ctx = hostSelectionContext(s);
      for (CollType coll : colls) {
        for (int root : {0, n - 1}) {
          if (root != 0 && !rooted(coll)) continue;
          for (size_t bytes : {size_t{4}, size_t{4} << 10, size_t{1} << 20, size_t{3} << 20}) {
            const CollArgs a = callOf(coll, bytes, n, root, windowed);
            for (const PricedCandidate& c : priceCandidates(a, ctx)) {
              EXPECT_GE(c.seconds, 0)
                  << collName(coll) << " " << c.algo->name() << " on " << n << " ranks, root "
                  << root << ", " << bytes << " bytes" << (windowed ? " (windowed)" : "")
                  << " is unpriced: " << c.why;
              if (c.seconds >= 0) ++priced[std::string(collKey(coll)) + "/" + c.algo->name()];
            }
          }
        }
      }
    }
  }
  // The loop reached the algorithms it guards: every one of these collectives' catalogue but the
  // hierarchical ones (they need a topology of more than one level).
  std::set<std::string> missing;
  for (const Algorithm* a : algorithmRegistry()) {
    bool covered = false;
    for (CollType c : colls) covered |= a->coll() == c;
    const std::string key = std::string(collKey(a->coll())) + "/" + a->name();
    if (covered && !priced.count(key) && std::string(a->name()).rfind("hier", 0) != 0)
      missing.insert(key);
  }
  EXPECT_TRUE(missing.empty()) << [&] {
    std::string s = "never priced:";
    for (const std::string& m : missing) s += " " + m;
    return s;
  }();
  EXPECT_GT(priced["broadcast/dbtree"], 0);
  EXPECT_GT(priced["reduce/dbtree"], 0);
}

}  // namespace
}  // namespace strata
