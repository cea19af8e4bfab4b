// strataSimCompute: the caller's compute on the simulator's per-stream virtual clocks
// (runtime/virtual_clocks.h).
#include <cmath>
#include <cstdint>
#include <memory>

#include "api/handles.h"

using strata::makeError;
using strata::Status;
using strata::VirtualClocks;
using strata::api::finish;
using strata::api::onComm;

namespace {

constexpr const char* kName = "strataSimCompute";
// About 11.6 days: larger charges would overflow the picosecond clocks after a few calls.
constexpr double kMaxMicroseconds = 1e12;

}  // namespace

extern "C" {

strataResult_t strataSimCompute(strataComm_t comm, strataStream_t stream, double microseconds) {
  return onComm(kName, comm, [&](strata::Comm* cm) -> strataResult_t {
    auto s = strata::api::checkStream(stream, kName);
    if (!s.isOk()) return finish(s.status(), cm);
    if (!std::isfinite(microseconds) || microseconds < 0 || microseconds > kMaxMicroseconds)
      return finish(makeError(strataInvalidArgument,
                              "%s: microseconds is %g on rank %d; it must be finite and in "
                              "[0, %g]",
                              kName, microseconds, cm->rank(), kMaxMicroseconds),
                    cm);
    Status ready = cm->ready();
    if (!ready.isOk()) return finish(ready.context(kName), cm);
    if (!cm->transport().modelsTime()) return strataSuccess;
    const auto ps = static_cast<int64_t>(std::llround(microseconds * 1e6));
    std::shared_ptr<VirtualClocks> clocks = cm->clocks();
    strata::Stream* st = s.value();
    if (!st) {
      clocks->charge(VirtualClocks::kCaller, 0, ps);
      return strataSuccess;
    }
    // In stream order: the compute follows what is queued there, from when the caller issued it.
    st->joinOnSynchronize(clocks);
    const int64_t stamp = clocks->now(VirtualClocks::kCaller);
    const uint64_t key = st->clockKey();
    st->enqueue([clocks, key, stamp, ps] {
      clocks->charge(key, stamp, ps);
      return Status::ok();
    });
    return strataSuccess;
  });
}

}  // extern "C"
