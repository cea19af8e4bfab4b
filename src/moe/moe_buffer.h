// MoeBuffer: one communicator's MoE dispatch/combine state. Created once per shape, it owns
// every byte a dispatch or combine needs: send stages and receive slots sized for the worst
// case (every rank sends all its tokens to one rank), float32 accumulators and the row maps of
// the last dispatch (the handle combine uses). A call allocates nothing but its small round
// plans.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "algorithms/hierarchical.h"
#include "moe/moe_chunk_board.h"
#include "moe/moe_layout.h"
#include "moe/moe_plans.h"
#include "moe/moe_shape.h"
#include "moe/moe_window.h"
#include "plan/executor.h"
#include "runtime/comm.h"

namespace strata {

// The calls errors are reported under.
inline constexpr const char* kMoeDispatchOp = "strataMoeDispatch";
inline constexpr const char* kMoeCombineOp = "strataMoeCombine";

// Tokens per chunk when the caller sets none: a quarter of maxTokens, at least 16 (decode's 128
// tokens move in 4 chunks; a rank's data to one peer is rarely worth cutting finer).
size_t defaultMoeChunkTokens(size_t maxTokens);

// Where a dispatch writes what it delivers to this rank (see strataMoeDispatch).
struct MoeDispatchOutputs {
  void* recvX = nullptr;
  int32_t* recvTopkIdx = nullptr;    // may be null
  float* recvTopkWeights = nullptr;  // may be null
  int* recvCountsPerExpert = nullptr;
  size_t* numRecvTokens = nullptr;
};

// One leg (dispatch or combine) as the round driver moves it (MoeBuffer::runRounds).
struct MoeLeg {
  const char* algo = nullptr;      // the round plans' name
  const char* collName = nullptr;  // the name the runs are counted under
  uint64_t call = 0;               // the call's packed CallTag (every round carries it)
  size_t slotBytes = 0;            // one peer's slot in the send stage and the receive area
  size_t header = 0;               // bytes before the records of a message
  size_t record = 0;               // bytes of one token's record
  const std::vector<size_t>* sendTokens = nullptr;  // per peer: records this rank sends
  const std::vector<size_t>* recvTokens = nullptr;  // per peer: records it receives
  bool firstRecvUpTo = false;  // recvTokens is known only after round 0 (it came with it)
  std::byte* sendStage = nullptr;
  std::byte* recvArea = nullptr;
  size_t callBytes = 0;  // the call's payload, counted with round 0
};

class MoeBuffer {
 public:
  static Result<std::unique_ptr<MoeBuffer>> create(Comm& comm, const strataMoeConfig_t& config);

  const MoeShape& shape() const { return shape_; }
  Comm& comm() { return comm_; }

  // Checked arguments only (the API layer checks them). Collective over the ranks. `gen` names
  // the dispatch for the chunk board (the API's dispatch count). The payload moves in rounds of
  // chunkTokens() tokens per peer; each round's rows are published on the board as they land.
  Status dispatch(const void* x, const TopkIds& ids, const float* weights,
                  const MoeDispatchOutputs& out, uint64_t gen);
  // Sends back the rows of the last dispatch; combined receives numTokens x hidden. Pipelined:
  // each chunk of tokens leaves once the caller has handed back its rows (board().rowsReady);
  // otherwise every row of expertOut is final now.
  Status combine(const void* expertOut, void* combined, bool pipelined);
  size_t chunkTokens() const { return chunkTokens_; }
  void setChunkTokens(size_t tokens) { chunkTokens_ = tokens; }
  MoeChunkBoard& board() { return board_; }
  // Whether a dispatch has completed (combine needs one).
  bool dispatched() const { return dispatched_; }
  // The placement of the dispatches that follow (checked by the caller).
  void setPlacement(const int32_t* slotExpert);
  // Slot each expert goes to from this rank; empty until a placement exists (numSlots >
  // numExperts without strataMoeBufferSetPlacement).
  const std::vector<int32_t>& route() const { return route_; }

 private:
  MoeBuffer(Comm& comm, MoeShape shape, std::unique_ptr<MoeWindow> window,
            std::optional<TwoLevels> levels);
  Status runFlatDispatch(const MoeLeg& leg, const void* x, const TopkIds& ids,
                         const float* weights, const MoeDispatchOutputs& out);
  Status runDispatch(const void* x, const TopkIds& ids, const float* weights,
                     const MoeDispatchOutputs& out);
  void countToken(const TopkIds& ids, size_t t);
  void countDispatch(const TopkIds& ids);
  void packDispatchThrough(size_t chunk, const void* x, const TopkIds& ids, const float* weights);
  void writeDispatchRecord(std::byte* p, const TopkIds& ids, const float* weights, size_t t,
                           const std::byte* row, bool* quantised);
  // After the first round: every peer's header, the rows' places, published on the board.
  Status readLayout(const MoeDispatchOutputs& out);
  // Unpacks records [first, last) of source s's message and publishes their rows.
  Status unpackRange(size_t s, size_t first, size_t last, const MoeDispatchOutputs& out);
  // Unpacks what landed since the last call (landed_ past unpacked_) of every source.
  Status unpackLanded(const MoeDispatchOutputs& out);
  Status runCombine(const void* expertOut, void* combined, bool pipelined);
  // The rounds of one leg; before(c) runs ahead of round c's transfers, after(c) once they
  // landed (either may be null).
  Status runRounds(const MoeLeg& leg, const std::function<Status(size_t)>& before,
                   const std::function<Status(size_t)>& after);
  Status waitReturned(size_t chunk);
  void packCombineChunk(size_t chunk, const void* expertOut);
  Status sumLanded(size_t chunk, void* combined);
  void finishToken(size_t t, void* combined);
  // InvalidUsage unless the combine message at `slot` from `peer` has the header `mine` with
  // `count` tokens.
  Status checkCombineHeader(const std::byte* slot, const MoeWireHeader& mine, int peer,
                            size_t count) const;
  void readCombineRecord(const std::byte* p, float* out) const;
  void writeCombineRecord(const float* acc, std::byte* p) const;
  // Adds the `count` records of a combine message at `slot` from `peer` (its header checked)
  // to the accumulators of tokens[0..count).
  Status addCombineMessage(const std::byte* slot, int peer, size_t count, const int32_t* tokens);
  // The two-level route (moe_hier.cc).
  void packHierDispatch(const void* x, const TopkIds& ids, const float* weights);
  Status runHierDispatch(const MoeDispatchOutputs& out, uint64_t call, size_t callBytes);
  Status forwardGroupChunk(size_t chunk, uint64_t call);
  Status landPieces(size_t chunk);
  Status runHierCombine(const void* expertOut, bool pipelined, uint64_t call, size_t callBytes);
  Status reduceAtGateway(size_t chunk);
  Status unpackHierCombine(void* combined);
  Status runTransfers(const char* algo, const char* name, uint64_t call, std::byte* send,
                      std::byte* recv, size_t callBytes);
  // Whether rank r is outside this rank's level-0 group (always false on the flat route).
  bool remote(size_t r) const { return levels_ && groupOf_[r] != levels_->g; }
  size_t groupHeaderBytes() const {
    return kMoeHeaderBytes + static_cast<size_t>(levels_->size) * shape_.dispatchHeaderBytes();
  }
  size_t groupSlotBytes() const {
    return groupHeaderBytes() + shape_.maxTokens * shape_.dispatchRecordBytes();
  }
  // The group message to (send stage) or from (receive area) group h, after the n rank slots.
  size_t groupAt(int h) const {
    return static_cast<size_t>(shape_.nranks) * shape_.dispatchSlotBytes() +
           static_cast<size_t>(h) * groupSlotBytes();
  }
  // Chunks of a message of `tokens` tokens (at least 1: the first carries the header).
  size_t chunksOf(size_t tokens) const {
    return tokens == 0 ? 1 : (tokens + runChunk_ - 1) / runChunk_;
  }
  // Chunk `chunk` of the message of `tokens` records at `base`.
  MoeTransfer chunkAt(size_t base, size_t header, size_t record, size_t tokens, size_t chunk) const;
  // What round `chunk` moves of that message into *out: its chunk, or (upTo: the count is not
  // known before round 0 lands) in round 0 at most a header and one chunk; false once the
  // message has no chunk left.
  bool roundChunk(size_t chunk, size_t base, size_t header, size_t record, size_t tokens,
                  bool upTo, MoeTransfer* out) const;
  size_t chunkId(size_t source, size_t chunk) const { return source * shape_.maxTokens + chunk; }
  MoeWireHeader wireHeader(uint32_t magic, strataMoeQuant_t quant, size_t record) const;
  // Where rank r's message to this rank lands (receive slot r)...
  std::byte* dispatchIn(int r) const {
    return dispatchArea_ + static_cast<size_t>(r) * shape_.dispatchSlotBytes();
  }
  std::byte* combineIn(int r) const {
    return combineArea_ + static_cast<size_t>(r) * shape_.combineSlotBytes();
  }
  // ...and where this rank writes its message to rank r: send-stage slot r, or with direct puts
  // this rank's slot of r's receive area (its own: receive slot rank_).
  std::byte* dispatchOut(int r);
  std::byte* combineOut(int r);
  // Direct puts, before a leg writes into the peers' slots: every rank has entered the call, so
  // has finished reading its slots of the previous one (moe_window.h).
  Status syncPeers(const MoeLeg& leg);

  Comm& comm_;
  MoeShape shape_;
  int rank_;
  PlanRun run_;
  // Dispatch: this rank's messages to each rank, and each rank's message to this one. Slot
  // `rank_` of the receive area is written directly (nothing travels to itself). With direct
  // puts (window_), the receive areas lie in shared memory and there is no send stage.
  std::unique_ptr<MoeWindow> window_;
  std::vector<std::byte> dispatchSend_, dispatchRecv_;
  std::vector<std::byte> combineSend_, combineRecv_;
  std::byte* dispatchArea_ = nullptr;
  std::byte* combineArea_ = nullptr;
  std::vector<float> accRow_;      // combine: one received token's weighted expert outputs
  std::vector<float> tokenAccum_;  // combine: per own token, the partial sums of every rank
  std::vector<float> rowFloat_;    // one row widened to float32
  std::vector<int8_t> rowQuant_;   // one token quantised to int8...
  float rowScale_ = 0;             // ...and its scale
  // The last dispatch (the handle): which of this rank's tokens went to each rank, in order...
  size_t numTokens_ = 0;
  std::vector<int32_t> sentTokens_;  // nranks x maxTokens
  std::vector<size_t> sentCount_;    // per rank
  std::vector<size_t> packedCount_;  // per rank: records of this dispatch packed so far
  // Flat route, per own token: its record index in the message to each rank (-1: none; T x n)
  // and how many ranks it went to; per combine, the ranks whose sums of it have not landed, and
  // per rank the records of its combine message counted so far.
  std::vector<int32_t> tokenPos_;
  std::vector<uint32_t> tokenRanks_, partsLeft_;
  std::vector<size_t> summed_;
  size_t packedTokens_ = 0;          // tokens of this dispatch packed so far
  // ...and for each row delivered here, where its token came from and its weight.
  std::vector<size_t> recvCount_, recvBase_;  // per source rank: tokens, first accumulator row
  std::vector<float> rowWeight_;              // each delivered row's top-k weight
  // Per received token (recvBase_[s] + i), its rows here in ascending order (stride topk).
  std::vector<int32_t> tokenRows_;
  std::vector<int32_t> tokenRowCount_;
  // Per (source, local slot): first row, rows announced, rows landed so far.
  std::vector<size_t> pairFirst_, pairCount_, pairCursor_;
  std::vector<uint32_t> destSlotRows_;  // per (destination, its local slot): rows sent there
  std::vector<MoeTransfer> sends_, recvs_;
  size_t chunkTokens_ = 0;
  size_t runChunk_ = 1;  // the chunk size of the last dispatch (its combine uses the same)
  MoeChunkBoard board_;
  size_t numRows_ = 0;
  std::vector<size_t> sendBytes_, recvBytes_, expertCursor_;
  std::vector<uint8_t> inRank_, inGroup_;
  std::vector<int32_t> route_;
  bool dispatched_ = false;
  // Two-level route (empty: flat). Per rank: its level-0 group and index there.
  std::optional<TwoLevels> levels_;
  std::vector<int> groupOf_, indexOf_;
  // Per source: records landed in its receive slot, and unpacked so far.
  std::vector<size_t> landed_, unpacked_;
  // As a source: tokens sent to each group (once each) and which ones (G x maxTokens).
  std::vector<size_t> groupSent_;
  std::vector<int32_t> groupTokens_;
  // As a gateway for the sources of this rank's index in the other groups (by their group h):
  // tokens their group message brought, records forwarded to each member j (G x L), and each
  // group token's record index at member j, -1 for none (G x maxTokens x L).
  std::vector<size_t> groupRecvTokens_, fwdCount_;
  std::vector<int32_t> fwdIdx_;
  // As a receiver: rounds the forwarder sends pieces of source s in.
  std::vector<size_t> fwdRounds_;
  std::vector<MoePeerTransfer> sendList_, recvList_;
};

}  // namespace strata
