// Tune strings pin algorithms per collective, message-size range and rank count, in one grammar
// for built-in defaults, users (STRATA_ALGO / strataConfig_t.algo) and tests:
//   allreduce:0-64k:@oneshot#allreduce:64k-inf:@ring:chunk=256k#broadcast:n=2-8:@chain
// An entry is `coll[:lo-hi][:n=lo-hi]:@algo[:param=value...]`. Sizes are bytes with optional
// k/m/g suffixes (powers of 1024); "inf" is unbounded; ranges are inclusive; an entry without a
// size range covers every size, one without `n=` every rank count. Parameters: `chunk=SIZE`, the
// pipelining chunk the algorithm plans with. The first matching entry wins. docs/tuning.md.
#pragma once

#include <climits>
#include <cstddef>
#include <string>
#include <vector>

#include "base/status.h"
#include "plan/coll_args.h"

namespace strata {

struct TuneRule {
  CollType coll = CollType::kAllReduce;
  size_t lo = 0;
  size_t hi = static_cast<size_t>(-1);
  int nlo = 1;
  int nhi = INT_MAX;
  std::string algo;
  size_t chunkBytes = 0;  // 0: the transport's chunk

  bool matches(CollType c, size_t bytes, int nranks) const {
    return c == coll && bytes >= lo && bytes <= hi && nranks >= nlo && nranks <= nhi;
  }
};

class TuneTable {
 public:
  // Parses `spec`. A malformed entry, an unknown collective or algorithm (the message lists the
  // valid ones) is an InvalidArgument naming `source`, the character offset and the problem.
  static Result<TuneTable> parse(const std::string& spec, const char* source);

  // The first rule for this collective, size and rank count, or null.
  const TuneRule* lookup(CollType coll, size_t bytes, int nranks) const;
  const std::vector<TuneRule>& rules() const { return rules_; }
  bool empty() const { return rules_.empty(); }

 private:
  std::vector<TuneRule> rules_;
};

// "64k", "1m", "inf", "4096": bytes (k/m/g are powers of 1024). False when malformed.
bool parseByteSize(const std::string& s, size_t* out);
// A collective's tune-string name ("allreduce", ...), case-insensitive.
bool parseCollKey(const std::string& s, CollType* out);
// Sizes as tune strings write them: "0", "64k", "1m", "inf".
std::string formatByteSize(size_t bytes);

}  // namespace strata
