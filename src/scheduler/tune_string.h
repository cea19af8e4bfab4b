// Tune strings pin algorithms per collective and message-size range, in one grammar for
// built-in defaults, users (STRATA_ALGO / strataConfig_t.algo) and tests:
//   allreduce:0-64k:@oneshot#allreduce:64k-inf:@ring#broadcast:@chain
// Sizes are bytes with optional k/m/g suffixes (powers of 1024); "inf" is unbounded; a range is
// inclusive; an entry without a range covers every size. The first matching entry wins.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "plan/coll_args.h"
#include "base/status.h"

namespace strata {

struct TuneRule {
  CollType coll = CollType::kAllReduce;
  size_t lo = 0;
  size_t hi = static_cast<size_t>(-1);
  std::string algo;
};

class TuneTable {
 public:
  // Parses `spec`; an unknown collective or algorithm, or a malformed entry, is an
  // InvalidArgument naming the entry. `source` names where the string came from.
  static Result<TuneTable> parse(const std::string& spec, const char* source);

  // The pinned algorithm for this collective and size, or empty.
  std::string lookup(CollType coll, size_t bytes) const;
  const std::vector<TuneRule>& rules() const { return rules_; }

 private:
  std::vector<TuneRule> rules_;
};

}  // namespace strata
