#include "scheduler/tune_file.h"

#include <algorithm>
#include <cstdarg>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <mutex>
#include <set>

#include "algorithms/algorithm.h"
#include "base/logging.h"
#include "base/whole_file.h"
#include "scheduler/topology_fingerprint.h"
#include "topology/json_fields.h"

namespace strata {
namespace {

using json::describe;
using json::expectObject;
using json::fail;
using json::Json;

constexpr int kMaxRanks = 1 << 20;

Status text(const Json& v, const std::string& path, std::string& out) {
  if (!v.is_string()) return fail(path, "expected a string, got %s", describe(v).c_str());
  out = v.get<std::string>();
  return Status::ok();
}

Status byteCount(const Json& v, const std::string& path, size_t& out) {
  if (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0)
    return fail(path, "%s is negative (sizes are bytes, >= 0)", describe(v).c_str());
  if (!v.is_number_unsigned())
    return fail(path, "expected a number of bytes (a non-negative integer), got %s",
                describe(v).c_str());
  out = static_cast<size_t>(v.get<uint64_t>());
  return Status::ok();
}

Status rankCount(const Json& v, const std::string& path, int& out) {
  if (!v.is_number_integer())
    return fail(path, "expected a rank count (an integer), got %s", describe(v).c_str());
  const int64_t x = v.get<int64_t>();
  if (x < 1 || x > kMaxRanks)
    return fail(path, "%lld ranks is outside [1, %d]", static_cast<long long>(x), kMaxRanks);
  out = static_cast<int>(x);
  return Status::ok();
}

Status number(const Json& v, const std::string& path, bool strictlyPositive, double& out) {
  if (!v.is_number()) return fail(path, "expected a number, got %s", describe(v).c_str());
  out = v.get<double>();
  if (strictlyPositive ? !(out > 0) : !(out >= 0))
    return fail(path, "%s must be %s", describe(v).c_str(),
                strictlyPositive ? "positive" : "non-negative");
  if (out > 1e18) return fail(path, "%s is out of range", describe(v).c_str());
  return Status::ok();
}

std::string validCollectives() {
  std::string valid;
  for (int c = 0; c < kNumCollTypes; ++c) {
    const CollType ct = static_cast<CollType>(c);
    if (algorithmNames(ct).empty()) continue;
    valid += (valid.empty() ? "" : ", ") + std::string(collKey(ct));
  }
  return valid;
}

Status readLevels(const Json& v, TuneFile& f) {
  if (!v.is_array()) return fail("/levels", "expected an array, got %s", describe(v).c_str());
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string path = "/levels/" + std::to_string(i);
    STRATA_CHECK(expectObject(v[i], path, {"level", "alphaUs", "gbps", "fitR2"}));
    FittedLevel l;
    for (const char* key : {"level", "alphaUs", "gbps"})
      if (!v[i].contains(key)) return fail(path + "/" + key, "missing");
    const Json& lv = v[i]["level"];
    if (!lv.is_number_integer() || lv.get<int64_t>() < 0 || lv.get<int64_t>() >= STRATA_MAX_LEVELS)
      return fail(path + "/level", "expected a level index in [0, %d), got %s", STRATA_MAX_LEVELS,
                  describe(lv).c_str());
    l.level = static_cast<int>(lv.get<int64_t>());
    for (const FittedLevel& o : f.levels)
      if (o.level == l.level) return fail(path + "/level", "level %d is given twice", l.level);
    STRATA_CHECK(number(v[i]["alphaUs"], path + "/alphaUs", false, l.alphaUs));
    STRATA_CHECK(number(v[i]["gbps"], path + "/gbps", true, l.gbps));
    if (v[i].contains("fitR2")) {
      double r2 = 0;
      STRATA_CHECK(number(v[i]["fitR2"], path + "/fitR2", false, r2));
    }
    f.levels.push_back(l);
  }
  return Status::ok();
}

Status readEntry(const Json& v, const std::string& path, TuneRule& r) {
  STRATA_CHECK(expectObject(v, path,
                            {"collective", "minBytes", "maxBytes", "ranks", "dtype", "algorithm",
                             "params", "timeUs"}));
  for (const char* key : {"collective", "algorithm"})
    if (!v.contains(key)) return fail(path + "/" + key, "missing (a string)");
  std::string coll;
  STRATA_CHECK(text(v["collective"], path + "/collective", coll));
  if (!parseCollKey(coll, &r.coll) || algorithmNames(r.coll).empty())
    return fail(path + "/collective", "unknown collective '%s' (valid: %s)", coll.c_str(),
                validCollectives().c_str());
  if (v.contains("minBytes")) STRATA_CHECK(byteCount(v["minBytes"], path + "/minBytes", r.lo));
  if (v.contains("maxBytes")) STRATA_CHECK(byteCount(v["maxBytes"], path + "/maxBytes", r.hi));
  if (r.lo > r.hi)
    return fail(path + "/maxBytes", "the size range %zu-%zu starts after it ends", r.lo, r.hi);
  if (v.contains("ranks")) {
    const Json& n = v["ranks"];
    if (n.is_array()) {
      if (n.size() != 2)
        return fail(path + "/ranks", "expected a rank count or [min, max], got %s",
                    describe(n).c_str());
      STRATA_CHECK(rankCount(n[0], path + "/ranks/0", r.nlo));
      STRATA_CHECK(rankCount(n[1], path + "/ranks/1", r.nhi));
      if (r.nlo > r.nhi)
        return fail(path + "/ranks", "the rank range %d-%d starts after it ends", r.nlo, r.nhi);
    } else {
      STRATA_CHECK(rankCount(n, path + "/ranks", r.nlo));
      r.nhi = r.nlo;
    }
  }
  if (v.contains("dtype")) {
    std::string d;
    STRATA_CHECK(text(v["dtype"], path + "/dtype", d));
    if (!parseDtypeClass(d, &r.dtype))
      return fail(path + "/dtype", "unknown dtype class '%s' (valid: any, 8bit, 16bit, 32bit, 64bit)",
                  d.c_str());
  }
  STRATA_CHECK(text(v["algorithm"], path + "/algorithm", r.algo));
  if (!findAlgorithm(r.coll, r.algo))
    return fail(path + "/algorithm", "no algorithm '%s' for %s (valid: %s)", r.algo.c_str(),
                collKey(r.coll), algorithmNames(r.coll).c_str());
  if (v.contains("params")) {
    const Json& p = v["params"];
    STRATA_CHECK(expectObject(p, path + "/params", {"chunk"}));
    if (p.contains("chunk")) {
      STRATA_CHECK(byteCount(p["chunk"], path + "/params/chunk", r.chunkBytes));
      if (r.chunkBytes == 0) return fail(path + "/params/chunk", "a chunk of 0 bytes");
    }
  }
  if (v.contains("timeUs")) {
    double us = 0;
    STRATA_CHECK(number(v["timeUs"], path + "/timeUs", false, us));
    r.measuredSeconds = us * 1e-6;
  }
  return Status::ok();
}

bool overlap(const TuneRule& a, const TuneRule& b) {
  const bool dtypes =
      a.dtype == DtypeClass::kAny || b.dtype == DtypeClass::kAny || a.dtype == b.dtype;
  return a.coll == b.coll && dtypes && a.lo <= b.hi && b.lo <= a.hi && a.nlo <= b.nhi &&
         b.nlo <= a.nhi;
}

// Entries are sorted per collective by the tuner; checked pairwise within a collective.
Status readEntries(const Json& v, TuneFile& f) {
  if (!v.is_array()) return fail("/entries", "expected an array, got %s", describe(v).c_str());
  std::vector<TuneRule> rules;
  rules.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    TuneRule r;
    const std::string path = "/entries/" + std::to_string(i);
    STRATA_CHECK(readEntry(v[i], path, r));
    for (size_t j = 0; j < rules.size(); ++j) {
      if (!overlap(rules[j], r)) continue;
      return fail(path,
                  "overlaps /entries/%zu (both cover %s %s-%s bytes on %d-%d ranks, dtype %s); "
                  "entries must not overlap",
                  j, collKey(r.coll), formatByteSize(std::max(r.lo, rules[j].lo)).c_str(),
                  formatByteSize(std::min(r.hi, rules[j].hi)).c_str(),
                  std::max(r.nlo, rules[j].nlo), std::min(r.nhi, rules[j].nhi),
                  dtypeClassName(r.dtype == DtypeClass::kAny ? rules[j].dtype : r.dtype));
    }
    rules.push_back(std::move(r));
  }
  f.table = TuneTable::fromRules(std::move(rules));
  return Status::ok();
}

Status readTuneFileJson(const Json& root, TuneFile& f) {
  STRATA_CHECK(expectObject(root, "",
                            {"version", "fingerprint", "topology", "description", "levels",
                             "entries"}));
  if (!root.contains("version")) return fail("/version", "missing (an integer)");
  if (!root["version"].is_number_integer())
    return fail("/version", "expected an integer, got %s", describe(root["version"]).c_str());
  if (root["version"].get<int64_t>() != kTuneFileVersion)
    return fail("/version", "format version %s is not supported (this library reads %d)",
                describe(root["version"]).c_str(), kTuneFileVersion);
  if (!root.contains("fingerprint"))
    return fail("/fingerprint", "missing (the topology's fingerprint, e.g. from strata-info)");
  STRATA_CHECK(text(root["fingerprint"], "/fingerprint", f.fingerprint));
  if (f.fingerprint.empty()) return fail("/fingerprint", "must not be empty");
  if (root.contains("topology")) STRATA_CHECK(text(root["topology"], "/topology", f.topologyName));
  if (root.contains("description")) {
    std::string ignored;
    STRATA_CHECK(text(root["description"], "/description", ignored));
  }
  if (root.contains("levels")) STRATA_CHECK(readLevels(root["levels"], f));
  if (!root.contains("entries")) return fail("/entries", "missing (an array of entries)");
  return readEntries(root["entries"], f);
}

}  // namespace

Result<TuneFile> parseTuneFile(const std::string& textIn, const std::string& source) {
  Json root;
  try {
    root = Json::parse(textIn);
  } catch (const Json::exception& e) {  // parse errors, and numbers too large for any type
    return makeError(strataInvalidArgument, "tune file '%s': not valid JSON: %s", source.c_str(),
                     e.what());
  }
  TuneFile f;
  Status s;
  try {
    s = readTuneFileJson(root, f);
  } catch (const Json::exception& e) {  // the reader checks types first; this is a backstop
    s = makeError(strataInvalidArgument, "unreadable value: %s", e.what());
  }
  if (!s.isOk()) return s.context("tune file '" + source + "'");
  return f;
}

Result<TuneFile> readTuneFile(const std::string& path) {
  Result<std::string> text = readWholeFile(path);
  if (!text.isOk()) return text.status().context("tune file");
  return parseTuneFile(text.value(), path);
}

std::string tuneFileToJson(const TuneFile& f) {
  Json j;
  j["version"] = kTuneFileVersion;
  j["fingerprint"] = f.fingerprint;
  if (!f.topologyName.empty()) j["topology"] = f.topologyName;
  if (!f.levels.empty()) {
    j["levels"] = Json::array();
    for (const FittedLevel& l : f.levels)
      j["levels"].push_back({{"level", l.level}, {"alphaUs", l.alphaUs}, {"gbps", l.gbps}});
  }
  j["entries"] = Json::array();
  for (const TuneRule& r : f.table.rules()) {
    Json e;
    e["collective"] = collKey(r.coll);
    e["minBytes"] = r.lo;
    if (r.hi != static_cast<size_t>(-1)) e["maxBytes"] = r.hi;
    if (r.nlo == r.nhi)
      e["ranks"] = r.nlo;
    else if (r.nlo != 1 || r.nhi != std::numeric_limits<int>::max())
      e["ranks"] = {r.nlo, std::min(r.nhi, kMaxRanks)};
    e["dtype"] = dtypeClassName(r.dtype);
    e["algorithm"] = r.algo;
    if (r.chunkBytes) e["params"] = {{"chunk", r.chunkBytes}};
    if (r.measuredSeconds >= 0) e["timeUs"] = r.measuredSeconds * 1e6;
    j["entries"].push_back(std::move(e));
  }
  return j.dump(2) + "\n";
}

void warnTuneFileRefused(const std::string& refusal) {
  static std::mutex mutex;
  static std::set<std::string> shown;
  {
    std::lock_guard<std::mutex> g(mutex);
    if (!shown.insert(refusal).second) return;
  }
  if (logEnabled(LogLevel::kWarn, Subsys::kAll))
    STRATA_WARN("%s", refusal.c_str());
  else
    std::fprintf(stderr, "STRATA WARN %s\n", refusal.c_str());
}

Result<TuneFileUse> tuneFileFor(const std::string& path, const Topology& topo) {
  TuneFileUse use;
  if (path.empty()) return use;
  STRATA_ASSIGN(TuneFile f, readTuneFile(path));
  const std::string mine = topologyFingerprint(topo);
  if (f.fingerprint != mine) {
    use.refusal = format(
        "tune file '%s' was made for topology fingerprint %s%s, not this communicator's %s "
        "(topology '%s', %d ranks); it is not used",
        path.c_str(), f.fingerprint.c_str(),
        f.topologyName.empty() ? "" : (" ('" + f.topologyName + "')").c_str(), mine.c_str(),
        topo.name.c_str(), topo.nranks);
    return use;
  }
  for (size_t i = 0; i < f.levels.size(); ++i) {
    if (f.levels[i].level >= static_cast<int>(topo.levels.size()))
      return makeError(strataInvalidArgument,
                       "tune file '%s': /levels/%zu/level: level %d, but topology '%s' has %zu",
                       path.c_str(), i, f.levels[i].level, topo.name.c_str(), topo.levels.size());
  }
  use.levels = std::move(f.levels);
  use.table = std::make_shared<const TuneTable>(std::move(f.table));
  return use;
}

}  // namespace strata
