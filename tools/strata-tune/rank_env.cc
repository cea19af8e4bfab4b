#include "rank_env.h"

#include <chrono>
#include <stdexcept>

#include "api/handles.h"
#include "common/sim_launch.h"

namespace strata::tune {

RankEnv::RankEnv(strataComm_t comm, std::string simSpec)
    : comm_(comm), simSpec_(std::move(simSpec)) {
  check(strataCommUserRank(comm, &rank_), "strataCommUserRank");
  check(strataCommCount(comm, &nranks_), "strataCommCount");
  check(strataStreamCreate(&stream_), "strataStreamCreate");
}

RankEnv::~RankEnv() {
  if (stream_) strataStreamDestroy(stream_);
}

const SelectionContext& RankEnv::context() const { return comm_->comm->planner().context(); }

double RankEnv::nowUs(strataComm_t c) const {
  if (sim()) return perf::simClockUs(c ? c : comm_);
  return std::chrono::duration<double, std::micro>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void RankEnv::check(strataResult_t r, const std::string& what) const {
  if (r == strataSuccess) return;
  throw std::runtime_error(what + " failed: " + strataGetErrorString(r) + ": " +
                           strataGetLastError(comm_));
}

void RankEnv::maxOverRanks(std::vector<double>& values) const {
  if (values.empty()) return;
  check(strataAllReduce(values.data(), values.data(), values.size(), strataFloat64, strataMax,
                        comm_, stream_),
        "strataAllReduce (max over ranks)");
  check(strataStreamSynchronize(stream_), "strataStreamSynchronize");
}

void RankEnv::barrier() const {
  check(strataBarrier(comm_, stream_), "strataBarrier");
  check(strataStreamSynchronize(stream_), "strataStreamSynchronize");
}

}  // namespace strata::tune
