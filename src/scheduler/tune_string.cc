#include "scheduler/tune_string.h"

#include <strings.h>

#include <cctype>

#include "algorithms/algorithm.h"
#include "base/dtype.h"

namespace strata {
namespace {

constexpr const char* kGrammar =
    "coll[:lo-hi][:n=lo-hi]:@algo[:chunk=SIZE], e.g. "
    "allreduce:0-64k:@oneshot";

// A field of an entry and where it starts in the whole string.
struct Field {
  std::string text;
  size_t offset;
};

std::vector<Field> split(const std::string& s, size_t base, char sep) {
  std::vector<Field> out;
  size_t pos = 0;
  while (true) {
    const size_t end = s.find(sep, pos);
    out.push_back(
        {s.substr(pos, end == std::string::npos ? std::string::npos : end - pos), base + pos});
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return out;
}

bool parseCount(const std::string& s, int* out) {
  if (s == "inf") {
    *out = INT_MAX;
    return true;
  }
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  *out = std::stoi(s);
  return true;
}

}  // namespace

bool parseByteSize(const std::string& s, size_t* out) {
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
  const std::string suffix = s.substr(pos);
  unsigned long long mult = 1;
  if (suffix.empty())
    mult = 1;
  else if (suffix == "k" || suffix == "K")
    mult = 1ull << 10;
  else if (suffix == "m" || suffix == "M")
    mult = 1ull << 20;
  else if (suffix == "g" || suffix == "G")
    mult = 1ull << 30;
  else
    return false;
  if (v > (~0ull) / mult) return false;
  *out = static_cast<size_t>(v * mult);
  return true;
}

bool parseCollKey(const std::string& s, CollType* out) {
  for (int c = 0; c < kNumCollTypes; ++c) {
    if (strcasecmp(s.c_str(), collKey(static_cast<CollType>(c))) == 0) {
      *out = static_cast<CollType>(c);
      return true;
    }
  }
  return false;
}

std::string formatByteSize(size_t bytes) {
  if (bytes == static_cast<size_t>(-1)) return "inf";
  const char* suffix[] = {"", "k", "m", "g"};
  int i = 0;
  while (i < 3 && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++i;
  }
  return std::to_string(bytes) + suffix[i];
}

Result<TuneTable> TuneTable::parse(const std::string& spec, const char* source) {
  TuneTable t;
  for (const Field& entry : split(spec, 0, '#')) {
    if (entry.text.empty()) continue;
    auto bad = [&](size_t offset, const std::string& why) {
      return makeError(strataInvalidArgument, "%s: offset %zu in entry '%s': %s (an entry is %s)",
                       source, offset, entry.text.c_str(), why.c_str(), kGrammar);
    };
    const std::vector<Field> fields = split(entry.text, entry.offset, ':');
    TuneRule rule;
    if (!parseCollKey(fields[0].text, &rule.coll)) {
      std::string valid;
      for (int c = 0; c < kNumCollTypes; ++c) {
        const CollType ct = static_cast<CollType>(c);
        if (algorithmNames(ct).empty()) continue;
        valid += (valid.empty() ? "" : ", ") + std::string(collKey(ct));
      }
      return bad(fields[0].offset,
                 "unknown collective '" + fields[0].text + "' (valid: " + valid + ")");
    }
    size_t i = 1;
    bool haveRange = false, haveRanks = false;
    for (; i < fields.size() && (fields[i].text.empty() || fields[i].text[0] != '@'); ++i) {
      const Field& f = fields[i];
      if (f.text.rfind("n=", 0) == 0) {
        if (haveRanks) return bad(f.offset, "a second rank-count scope");
        const std::vector<Field> r = split(f.text.substr(2), f.offset + 2, '-');
        if (r.size() != 2 || !parseCount(r[0].text, &rule.nlo) || !parseCount(r[1].text, &rule.nhi))
          return bad(f.offset,
                     "bad rank-count scope '" + f.text + "' (expected n=lo-hi, e.g. n=2-8)");
        if (rule.nlo > rule.nhi) return bad(f.offset, "rank-count scope starts after it ends");
        haveRanks = true;
        continue;
      }
      if (haveRange) return bad(f.offset, "a second size range");
      const std::vector<Field> r = split(f.text, f.offset, '-');
      if (r.size() != 2) return bad(f.offset, "bad size range '" + f.text + "' (expected lo-hi)");
      if (!parseByteSize(r[0].text, &rule.lo))
        return bad(r[0].offset, "bad size '" + r[0].text + "'");
      if (!parseByteSize(r[1].text, &rule.hi))
        return bad(r[1].offset, "bad size '" + r[1].text + "'");
      if (rule.lo > rule.hi) return bad(f.offset, "size range starts after it ends");
      haveRange = true;
    }
    if (i == fields.size())
      return bad(entry.offset + entry.text.size(), "missing the algorithm (@name)");
    const Field& algo = fields[i];
    rule.algo = algo.text.substr(1);
    if (rule.algo.empty()) return bad(algo.offset, "empty algorithm name after '@'");
    if (!findAlgorithm(rule.coll, rule.algo)) {
      return bad(algo.offset + 1, "no algorithm '" + rule.algo + "' for " + collKey(rule.coll) +
                                      " (valid: " + algorithmNames(rule.coll) + ")");
    }
    for (++i; i < fields.size(); ++i) {
      const Field& f = fields[i];
      const size_t eq = f.text.find('=');
      const std::string key = f.text.substr(0, eq);
      if (eq == std::string::npos || key != "chunk")
        return bad(f.offset, "unknown parameter '" + f.text + "' (known: chunk=SIZE)");
      const std::string value = f.text.substr(eq + 1);
      if (!parseByteSize(value, &rule.chunkBytes) || rule.chunkBytes == 0 ||
          rule.chunkBytes == static_cast<size_t>(-1))
        return bad(f.offset + eq + 1, "bad chunk size '" + value + "'");
    }
    t.rules_.push_back(rule);
  }
  return t;
}

TuneTable TuneTable::fromRules(std::vector<TuneRule> rules) {
  TuneTable t;
  t.rules_ = std::move(rules);
  return t;
}

const TuneRule* TuneTable::lookup(CollType coll, size_t bytes, int nranks,
                                  DtypeClass dtype) const {
  for (const TuneRule& r : rules_)
    if (r.matches(coll, bytes, nranks, dtype)) return &r;
  return nullptr;
}

const char* dtypeClassName(DtypeClass c) {
  switch (c) {
    case DtypeClass::kAny:
      return "any";
    case DtypeClass::k8Bit:
      return "8bit";
    case DtypeClass::k16Bit:
      return "16bit";
    case DtypeClass::k32Bit:
      return "32bit";
    case DtypeClass::k64Bit:
      return "64bit";
  }
  return "?";
}

bool parseDtypeClass(const std::string& s, DtypeClass* out) {
  for (DtypeClass c : {DtypeClass::kAny, DtypeClass::k8Bit, DtypeClass::k16Bit,
                       DtypeClass::k32Bit, DtypeClass::k64Bit}) {
    if (s == dtypeClassName(c)) {
      *out = c;
      return true;
    }
  }
  return false;
}

DtypeClass dtypeClassOf(strataDataType_t t) {
  switch (dtypeSize(t)) {
    case 1:
      return DtypeClass::k8Bit;
    case 2:
      return DtypeClass::k16Bit;
    case 4:
      return DtypeClass::k32Bit;
    case 8:
      return DtypeClass::k64Bit;
    default:
      return DtypeClass::kAny;
  }
}

}  // namespace strata
