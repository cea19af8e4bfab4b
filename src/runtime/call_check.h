// The full call check (STRATA_CHECK=1): before the data of a call moves, every rank sends the
// call's whole signature (sequence number, collective, count, type, operator, root) to every
// other rank, and each compares what it received with its own. Ranks that disagree all see the
// same signatures, so every one of them refuses the call with strataInvalidUsage naming both
// ranks and both calls, and none has sent a byte of payload: the communicator stays usable.
//
// The exchange is a one-phase plan of fixed-size messages run by the executor over the
// communicator's transport (shm, sim, network alike), with the call's deadline and abort. Its
// chunks carry the CallKind::kCallCheck tag, so a rank without the check that receives one (or a
// rank with it that receives another call's data) still fails through the always-on tag check.
//
// A group's collectives on one communicator travel in one signature message (the first
// kDetailedCalls in full, the rest as a digest). Send and Recv, which involve only some ranks,
// are not part of it; a group of only Send/Recv exchanges nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/status.h"
#include "plan/coll_args.h"
#include "plan/executor.h"

namespace strata {

class Comm;

// One collective as the check compares it. Fields a collective does not have are -1 (op, root)
// or kNoCount (the v-collectives, whose counts differ by rank legitimately).
struct CallSignature {
  static constexpr uint64_t kNoCount = ~uint64_t{0};
  uint32_t seq = 0;
  uint8_t coll = 0;  // CollType
  uint8_t quant = 0xff;  // the quantised AllGather's and the fused AllReduce's format (0xff: none)
  uint16_t reserved = 0;
  int32_t dtype = -1;
  int32_t op = -1;
  int32_t root = -1;
  uint32_t reserved2 = 0;
  uint64_t count = kNoCount;
  uint64_t block = 0;  // the quantised AllGather's block or the fused AllReduce's row length

  bool operator==(const CallSignature&) const = default;
};

// What a rank sends every peer before a checked call.
struct SignatureMessage {
  static constexpr uint32_t kMagic = 0x4b484353u;  // "SCHK"
  static constexpr size_t kDetailedCalls = 6;
  uint32_t magic = kMagic;
  uint32_t ncalls = 0;  // collectives in the call (a group may have several)
  uint64_t digest = 0;  // of every signature, including those past kDetailedCalls
  CallSignature calls[kDetailedCalls] = {};
};

// "AllReduce(count 1024, float32, sum) #7", for messages.
std::string describeSignature(const CallSignature& s);

// The signatures of a call's collectives; seq of the first is `firstSeq`.
SignatureMessage makeSignature(const CollArgs* calls, size_t count, uint32_t firstSeq);

// The first disagreement between rank `me`'s message and `peerRank`'s, as "rank 0 called ... but
// rank 1 called ..."; empty when they agree.
std::string compareSignatures(int me, const SignatureMessage& mine, int peerRank,
                              const SignatureMessage& theirs);

// One communicator's signature exchange: the cached plan, its run state and its buffers.
class CallChecker {
 public:
  CallChecker(int rank, int nranks);

  // Whether these calls are checked (they hold at least one collective).
  static bool applies(const CollArgs* calls, size_t count);

  // Readies the exchange of these calls' signatures (the calls' first sequence number is
  // firstSeq) on the communicator's run context; run() it with runToCompletion.
  void prepare(const RunContext& ctx, const CollArgs* calls, size_t count, uint32_t firstSeq);
  PlanRun& run() { return run_; }
  // After the run completed: strataInvalidUsage naming this rank's call and the first rank that
  // called something else, or ok.
  Status verdict(const std::string& label) const;

 private:
  int rank_;
  int nranks_;
  PlanPtr plan_;
  PlanRun run_;
  SignatureMessage mine_;
  std::vector<SignatureMessage> received_;  // by rank
};

// Runs the exchanges of several communicators' checkers together (a group spanning them):
// a failure of the exchange itself (timeout, lost peer, a message of another call) is returned.
Status runCallChecks(CallChecker* const* checkers, size_t count);

}  // namespace strata
