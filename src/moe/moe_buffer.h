// MoeBuffer: one communicator's MoE dispatch/combine state. Created once per shape, it owns
// every byte a dispatch or combine needs: send stages and receive slots sized for the worst
// case (every rank sends all its tokens to one rank), float32 accumulators and the row maps of
// the last dispatch (the handle combine uses). A call allocates nothing but its small plan.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "moe/moe_layout.h"
#include "moe/moe_shape.h"
#include "plan/executor.h"
#include "runtime/comm.h"

namespace strata {

// Where a dispatch writes what it delivers to this rank (see strataMoeDispatch).
struct MoeDispatchOutputs {
  void* recvX = nullptr;
  int32_t* recvTopkIdx = nullptr;    // may be null
  float* recvTopkWeights = nullptr;  // may be null
  int* recvCountsPerExpert = nullptr;
  size_t* numRecvTokens = nullptr;
};

class MoeBuffer {
 public:
  static Result<std::unique_ptr<MoeBuffer>> create(Comm& comm, const strataMoeConfig_t& config);

  const MoeShape& shape() const { return shape_; }
  Comm& comm() { return comm_; }

  // Checked arguments only (the API layer checks them). Collective over the ranks.
  Status dispatch(const void* x, const TopkIds& ids, const float* weights,
                  const MoeDispatchOutputs& out);
  // Sends back the rows of the last dispatch; combined receives numTokens x hidden.
  Status combine(const void* expertOut, void* combined);
  // Whether a dispatch has completed (combine needs one).
  bool dispatched() const { return dispatched_; }
  // The placement of the dispatches that follow (checked by the caller).
  void setPlacement(const int32_t* slotExpert);
  // Slot each expert goes to from this rank; empty until a placement exists (numSlots >
  // numExperts without strataMoeBufferSetPlacement).
  const std::vector<int32_t>& route() const { return route_; }

 private:
  MoeBuffer(Comm& comm, MoeShape shape);
  void packDispatch(const void* x, const TopkIds& ids, const float* weights);
  Status unpackDispatch(const MoeDispatchOutputs& out);
  void packCombine(const void* expertOut);
  Status unpackCombine(void* combined);
  std::byte* dispatchSlot(std::vector<std::byte>& area, int rank) {
    return area.data() + static_cast<size_t>(rank) * shape_.dispatchSlotBytes();
  }
  std::byte* combineSlot(std::vector<std::byte>& area, int rank) {
    return area.data() + static_cast<size_t>(rank) * shape_.combineSlotBytes();
  }

  Comm& comm_;
  MoeShape shape_;
  int rank_;
  PlanRun run_;
  // Dispatch: this rank's messages to each rank, and each rank's message to this one. Slot
  // `rank_` of the receive area is written directly (nothing travels to itself).
  std::vector<std::byte> dispatchSend_, dispatchRecv_;
  std::vector<std::byte> combineSend_, combineRecv_;
  std::vector<float> rowAccum_;    // combine: per received token, its weighted expert outputs
  std::vector<float> tokenAccum_;  // combine: per own token, the partial sums of every rank
  std::vector<float> rowFloat_;    // one row widened to float32
  std::vector<int8_t> rowQuant_;   // one token quantised to int8
  // The last dispatch (the handle): which of this rank's tokens went to each rank, in order...
  size_t numTokens_ = 0;
  std::vector<int32_t> sentTokens_;  // nranks x maxTokens
  std::vector<size_t> sentCount_;    // per rank
  // ...and for each row delivered here, where its token came from and its weight.
  std::vector<size_t> recvCount_, recvBase_;  // per source rank: tokens, first accumulator row
  std::vector<int32_t> rowSource_;            // accumulator row of each delivered row
  std::vector<float> rowWeight_;
  size_t numRows_ = 0;
  std::vector<size_t> sendBytes_, recvBytes_, expertCursor_;
  std::vector<uint8_t> inRank_;
  std::vector<int32_t> route_;
  bool dispatched_ = false;
};

}  // namespace strata
