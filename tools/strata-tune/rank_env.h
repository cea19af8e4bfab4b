// One rank's handles for a tuning run: its communicator and stream, its clock (the virtual clock
// on the sim, a steady clock elsewhere), the scheduler's view of the communicator, and the
// helpers every measurement uses (checked calls, max over ranks).
#pragma once

#include <string>
#include <vector>

#include "scheduler/selection_context.h"
#include "strata/strata.h"

namespace strata::tune {

class RankEnv {
 public:
  // Creates a stream for comm. simSpec: the topology of a --sim run ("" elsewhere). Throws
  // std::runtime_error when that fails.
  RankEnv(strataComm_t comm, std::string simSpec);
  ~RankEnv();
  RankEnv(const RankEnv&) = delete;
  RankEnv& operator=(const RankEnv&) = delete;

  strataComm_t comm() const { return comm_; }
  strataStream_t stream() const { return stream_; }
  int rank() const { return rank_; }
  int nranks() const { return nranks_; }
  bool sim() const { return !simSpec_.empty(); }
  const std::string& simSpec() const { return simSpec_; }

  // What the scheduler of comm sees: topology, fingerprint, eligibility, the model.
  const SelectionContext& context() const;

  // Microseconds: this rank's virtual clock of `c` (default: comm()) on the sim, a monotonic
  // clock elsewhere.
  double nowUs(strataComm_t c = nullptr) const;

  // Throws std::runtime_error "what failed: <code>: <comm's last error>" unless r is success.
  void check(strataResult_t r, const std::string& what) const;

  // Replaces every value by its maximum over the ranks of comm (an AllReduce of doubles).
  void maxOverRanks(std::vector<double>& values) const;

  // Waits for every rank (a barrier on the stream).
  void barrier() const;

 private:
  strataComm_t comm_;
  strataStream_t stream_ = nullptr;
  int rank_ = 0;
  int nranks_ = 1;
  std::string simSpec_;
};

}  // namespace strata::tune
