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
#include "strata/strata.h"

namespace strata {

// The element widths tune-file entries are scoped by (the wire moves and reduces bytes of one
// width alike, whatever the type): "any", "8bit", "16bit", "32bit", "64bit".
enum class DtypeClass { kAny, k8Bit, k16Bit, k32Bit, k64Bit };
const char* dtypeClassName(DtypeClass c);
bool parseDtypeClass(const std::string& s, DtypeClass* out);
DtypeClass dtypeClassOf(strataDataType_t t);

struct TuneRule {
  CollType coll = CollType::kAllReduce;
  size_t lo = 0;
  size_t hi = static_cast<size_t>(-1);
  int nlo = 1;
  int nhi = INT_MAX;
  std::string algo;
  size_t chunkBytes = 0;  // 0: the transport's chunk
  DtypeClass dtype = DtypeClass::kAny;  // tune-file entries only; tune strings cover every type
  double measuredSeconds = -1;          // tune-file entries: the time the tuner measured; < 0: none

  bool matches(CollType c, size_t bytes, int nranks, DtypeClass d) const {
    return c == coll && bytes >= lo && bytes <= hi && nranks >= nlo && nranks <= nhi &&
           (dtype == DtypeClass::kAny || d == DtypeClass::kAny || dtype == d);
  }
};

class TuneTable {
 public:
  // Parses `spec`. A malformed entry, an unknown collective or algorithm (the message lists the
  // valid ones) is an InvalidArgument naming `source`, the character offset and the problem.
  static Result<TuneTable> parse(const std::string& spec, const char* source);

  // A table of rules already checked (a tune file's entries).
  static TuneTable fromRules(std::vector<TuneRule> rules);

  // The first rule for this collective, size, rank count and element width, or null.
  const TuneRule* lookup(CollType coll, size_t bytes, int nranks,
                         DtypeClass dtype = DtypeClass::kAny) const;
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
