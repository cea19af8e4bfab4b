#include "tune_output.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "scheduler/tune_file.h"
#include "scheduler/tune_string.h"

namespace strata::tune {

std::string tuneFileText(const SelectionContext& ctx, const std::vector<LevelProbe>& levels,
                         const std::vector<Series>& series, const std::string& description) {
  using Json = nlohmann::ordered_json;
  Json j;
  j["version"] = kTuneFileVersion;
  j["fingerprint"] = ctx.fingerprint;
  j["topology"] = ctx.topology->name;
  j["description"] = description;
  j["levels"] = Json::array();
  for (const LevelProbe& l : levels) {
    if (!l.fit.ok || l.fit.r2 < kMinR2) continue;
    j["levels"].push_back({{"level", l.level},
                           {"alphaUs", l.fit.alphaUs},
                           {"gbps", l.fit.gbps},
                           {"fitR2", l.fit.r2}});
  }
  j["entries"] = Json::array();
  for (const Series& s : series) {
    std::vector<const SweepPoint*> pts;
    for (const SweepPoint& p : s.points)
      if (p.chosen >= 0) pts.push_back(&p);
    for (size_t i = 0; i < pts.size(); ++i) {
      const SweepPoint& p = *pts[i];
      // [lo, hi]: from just above the previous boundary to the geometric mean with the next size.
      size_t lo = 0;
      if (i > 0) {
        const double prev = std::sqrt(static_cast<double>(pts[i - 1]->bytes) * p.bytes);
        lo = std::max(pts[i - 1]->bytes, static_cast<size_t>(prev)) + 1;
      }
      size_t hi = p.bytes;
      if (i + 1 < pts.size()) {
        const double next = std::sqrt(static_cast<double>(p.bytes) * pts[i + 1]->bytes);
        hi = std::max(p.bytes, std::min(pts[i + 1]->bytes - 1, static_cast<size_t>(next)));
      }
      Json e;
      e["collective"] = collKey(s.coll);
      e["minBytes"] = lo;
      e["maxBytes"] = hi;
      e["ranks"] = ctx.shape.nranks;
      e["dtype"] = s.anyWidth ? "any" : dtypeClassName(dtypeClassOf(s.type));
      e["algorithm"] = s.algos[static_cast<size_t>(p.chosen)];
      e["timeUs"] = std::round(p.us[static_cast<size_t>(p.chosen)] * 1000.0) / 1000.0;
      j["entries"].push_back(std::move(e));
    }
  }
  return j.dump(2) + "\n";
}

Status writeTuneFile(const std::string& path, const std::string& text) {
  Result<TuneFile> check = parseTuneFile(text, path);
  if (!check.isOk())
    return makeError(strataInternalError, "the tune file made would be refused: %s",
                     check.status().message().c_str());
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) return makeError(strataSystemError, "cannot write '%s': %m", tmp.c_str());
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok) {
    std::remove(tmp.c_str());
    return makeError(strataSystemError, "cannot write '%s': %m", tmp.c_str());
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return makeError(strataSystemError, "cannot rename '%s' to '%s': %m", tmp.c_str(),
                     path.c_str());
  }
  return Status::ok();
}

}  // namespace strata::tune
