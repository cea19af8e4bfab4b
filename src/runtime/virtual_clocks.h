// One rank's virtual clocks per stream, on a transport that models time (sim). The transport's
// clock is the communicator's engine: it runs one operation at a time. Each stream (and the
// caller's own thread, the NULL stream, key 0) has its own clock, so work on one stream overlaps
// the caller's compute (strataSimCompute) or work on another:
//   - a call issued on a stream is stamped with the caller's clock when it is issued; it starts
//     at the latest of that stamp, its stream's clock and the engine's, and its stream's clock
//     becomes its end;
//   - compute charged to a stream starts at the latest of its stamp and the stream's clock;
//   - strataStreamSynchronize joins the stream's clock into the caller's.
// Every clock moves in its own program order, so the times stay deterministic.
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace strata {

class VirtualClocks {
 public:
  static constexpr uint64_t kCaller = 0;  // the NULL stream: the caller's thread

  // The clock of `stream` in picoseconds (0 before its first use).
  int64_t now(uint64_t stream);
  // Work of `ps` picoseconds on `stream`, issued at `stampPs`: the clock becomes
  // max(clock, stampPs) + ps. Returns the new clock.
  int64_t charge(uint64_t stream, int64_t stampPs, int64_t ps);
  // Moves the clock of `stream` forward to atPs (never back).
  void advance(uint64_t stream, int64_t atPs);
  // The caller waited for `stream`: its clock catches up with the stream's.
  void join(uint64_t stream);
  // The latest of every clock: how far this rank's virtual time has run.
  int64_t latest();

 private:
  std::mutex mutex_;
  std::unordered_map<uint64_t, int64_t> clocks_;
  int64_t latest_ = 0;
};

}  // namespace strata
