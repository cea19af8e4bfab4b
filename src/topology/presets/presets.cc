#include "topology/presets/presets.h"

#include <charconv>
#include <string_view>

namespace strata {
namespace {

constexpr int kMaxHccsServers = 128;
constexpr int kCloudMatrixRanks = 384;

// Parses all of `s` as a decimal int.
bool parseInt(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

bool isPresetName(const std::string& name) {
  return startsWith(name, "hccs-") || name == "cm384" || startsWith(name, "cm384:");
}

std::vector<std::string> presetNames() { return {"hccs-8", "hccs-2x8", "hccs-4x8", "cm384"}; }

Result<Topology> topologyPreset(const std::string& name) {
  const std::string_view s(name);
  if (s == "hccs-8") return hccsMeshPreset(1);
  if (startsWith(s, "hccs-") && s.size() > 7 && s.substr(s.size() - 2) == "x8") {
    int servers = 0;
    if (parseInt(s.substr(5, s.size() - 7), servers) && servers >= 1 && servers <= kMaxHccsServers)
      return hccsMeshPreset(servers);
  }
  if (s == "cm384") return cloudMatrixPreset(kCloudMatrixRanks);
  if (startsWith(s, "cm384:")) {
    int n = 0;
    if (parseInt(s.substr(6), n) && n >= 1 && n <= kCloudMatrixRanks) return cloudMatrixPreset(n);
  }
  return makeError(strataInvalidArgument,
                   "unknown topology preset '%s' (presets: hccs-8, hccs-<M>x8 with M in 1..%d, "
                   "cm384, cm384:<N> with N in 1..%d)",
                   name.c_str(), kMaxHccsServers, kCloudMatrixRanks);
}

}  // namespace strata
