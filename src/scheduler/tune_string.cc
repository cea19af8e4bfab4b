#include "scheduler/tune_string.h"

#include <cctype>
#include <strings.h>

#include "algorithms/algorithm.h"

namespace strata {
namespace {

bool parseSize(const std::string& s, size_t* out) {
  if (strcasecmp(s.c_str(), "inf") == 0) {
    *out = static_cast<size_t>(-1);
    return true;
  }
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  size_t pos = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(s, &pos);
  } catch (...) {
    return false;
  }
  std::string suffix = s.substr(pos);
  unsigned long long mult = 1;
  if (suffix.empty()) mult = 1;
  else if (suffix == "k" || suffix == "K") mult = 1ull << 10;
  else if (suffix == "m" || suffix == "M") mult = 1ull << 20;
  else if (suffix == "g" || suffix == "G") mult = 1ull << 30;
  else return false;
  *out = static_cast<size_t>(v * mult);
  return true;
}

bool parseColl(const std::string& s, CollType* out) {
  for (int c = 0; c < kNumCollTypes; ++c) {
    if (strcasecmp(s.c_str(), collKey(static_cast<CollType>(c))) == 0) {
      *out = static_cast<CollType>(c);
      return true;
    }
  }
  return false;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t end = s.find(sep, pos);
    out.push_back(s.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return out;
}

}  // namespace

Result<TuneTable> TuneTable::parse(const std::string& spec, const char* source) {
  TuneTable t;
  if (spec.empty()) return t;
  for (const std::string& entry : split(spec, '#')) {
    if (entry.empty()) continue;
    auto bad = [&](const char* why) {
      return makeError(strataInvalidArgument,
                       "%s: bad tune entry '%s': %s (expected coll:[lo-hi:]@algo, e.g. "
                       "allreduce:0-64k:@oneshot)",
                       source, entry.c_str(), why);
    };
    std::vector<std::string> parts = split(entry, ':');
    if (parts.size() < 2 || parts.size() > 3) return bad("wrong number of ':' fields");
    TuneRule rule;
    if (!parseColl(parts[0], &rule.coll)) return bad("unknown collective");
    if (parts.size() == 3) {
      std::vector<std::string> range = split(parts[1], '-');
      if (range.size() != 2 || !parseSize(range[0], &rule.lo) || !parseSize(range[1], &rule.hi))
        return bad("bad size range");
      if (rule.lo > rule.hi) return bad("range starts after it ends");
    }
    const std::string& algo = parts.back();
    if (algo.size() < 2 || algo[0] != '@') return bad("algorithm must be written @name");
    rule.algo = algo.substr(1);
    if (!findAlgorithm(rule.coll, rule.algo)) return bad("no such algorithm for this collective");
    t.rules_.push_back(rule);
  }
  return t;
}

std::string TuneTable::lookup(CollType coll, size_t bytes) const {
  for (const TuneRule& r : rules_)
    if (r.coll == coll && bytes >= r.lo && bytes <= r.hi) return r.algo;
  return {};
}

}  // namespace strata
