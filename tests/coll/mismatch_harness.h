// Ranks that disagree on their calls (call_mismatch_test, full_check_test): message checks, a
// deadline short enough that a mismatch that goes unseen fails the test instead of hanging it,
// and the Send/Recv between two ranks that must not put the ranks out of step.
#pragma once

#include <string>

#include "coll/coll_harness.h"

namespace strata::test {

// A 20 s deadline, on `transport` (nullptr: the default).
inline strataConfig_t mismatchConfig(const char* transport = nullptr) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 20000;
  cfg.transport = transport;
  return cfg;
}

// Rank 0 sends to rank 1, then every rank of three runs `allReduces` AllReduces of its rank + 1:
// Send and Recv, which only some ranks make, must leave the ranks agreeing on their calls.
inline void sendRecvThenAllReduce(int rank, strataComm_t comm, int allReduces) {
  const float v = static_cast<float>(rank + 1);
  if (rank == 0) {
    ASSERT_EQ(strataSend(&v, 1, strataFloat32, 1, comm, nullptr), strataSuccess);
  }
  if (rank == 1) {
    float got = 0;
    ASSERT_EQ(strataRecv(&got, 1, strataFloat32, 0, comm, nullptr), strataSuccess)
        << strataGetLastError(comm);
    EXPECT_EQ(got, 1.f);
  }
  for (int i = 0; i < allReduces; ++i) {
    float w = v;
    ASSERT_EQ(strataAllReduce(&w, &w, 1, strataFloat32, strataSum, comm, nullptr), strataSuccess)
        << strataGetLastError(comm);
    EXPECT_EQ(w, 6.f);
  }
}

}  // namespace strata::test
