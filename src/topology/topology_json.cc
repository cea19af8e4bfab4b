#include "topology/topology_json.h"

#include <cerrno>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>

#include "base/logging.h"
#include "base/whole_file.h"
#include "topology/json_fields.h"

namespace strata {
namespace {

using json::describe;
using json::expectObject;
using json::fail;
using json::Json;

constexpr int kFormatVersion = 1;
constexpr int kMaxRanks = 1 << 20;

// Reads one JSON document into a Topology; every failure names the JSON path of the value.
class TopologyReader {
 public:
  Status read(const Json& root, Topology& t) {
    STRATA_CHECK(expectObject(
        root, "",
        {"version", "name", "description", "ranks", "ports", "levels", "compute", "hosts"}));
    int version = 0;
    STRATA_CHECK(requireInt(root, "", "version", 0, std::numeric_limits<int>::max(), version));
    if (version != kFormatVersion)
      return fail("/version", "format version %d is not supported (this library reads %d)", version,
                  kFormatVersion);
    STRATA_CHECK(optionalString(root, "", "name", t.name));
    STRATA_CHECK(optionalString(root, "", "description", t.description));
    STRATA_CHECK(requireInt(root, "", "ranks", 1, kMaxRanks, t.nranks));
    if (root.contains("ports")) STRATA_CHECK(readPorts(root["ports"], t));
    if (!root.contains("levels")) return fail("/levels", "missing (a non-empty array of levels)");
    STRATA_CHECK(readLevels(root["levels"], t));
    if (root.contains("compute")) {
      const Json& c = root["compute"];
      STRATA_CHECK(expectObject(c, "/compute", {"reduceGbps"}));
      if (c.contains("reduceGbps"))
        STRATA_CHECK(number(c["reduceGbps"], "/compute/reduceGbps", false, t.reduceGbps));
    }
    if (root.contains("hosts")) STRATA_CHECK(readHosts(root["hosts"], t));
    return Status::ok();
  }

 private:
  static Status requireInt(const Json& obj, const std::string& path, const char* key, int lo,
                           int hi, int& out) {
    if (!obj.contains(key)) return fail(path + "/" + key, "missing (an integer)");
    return integer(obj[key], path + "/" + key, lo, hi, out);
  }

  static Status integer(const Json& v, const std::string& path, int lo, int hi, int& out) {
    if (!v.is_number_integer())
      return fail(path, "expected an integer, got %s", describe(v).c_str());
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi)
      return fail(path, "%lld is outside [%d, %d]", static_cast<long long>(x), lo, hi);
    out = static_cast<int>(x);
    return Status::ok();
  }

  static Status unsignedInt(const Json& v, const std::string& path, uint64_t& out) {
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
      return fail(path, "expected a non-negative integer, got %s", describe(v).c_str());
    out = v.get<uint64_t>();
    return Status::ok();
  }

  static Status number(const Json& v, const std::string& path, bool strictlyPositive, double& out) {
    if (!v.is_number()) return fail(path, "expected a number, got %s", describe(v).c_str());
    out = v.get<double>();
    if (strictlyPositive ? !(out > 0) : !(out >= 0))
      return fail(path, "%s must be %s", describe(v).c_str(),
                  strictlyPositive ? "positive" : "non-negative");
    return Status::ok();
  }

  static Status string(const Json& v, const std::string& path, std::string& out) {
    if (!v.is_string()) return fail(path, "expected a string, got %s", describe(v).c_str());
    out = v.get<std::string>();
    return Status::ok();
  }

  static Status optionalString(const Json& obj, const std::string& path, const char* key,
                               std::string& out) {
    if (!obj.contains(key)) return Status::ok();
    return string(obj[key], path + "/" + key, out);
  }

  static Status readPorts(const Json& v, Topology& t) {
    if (!v.is_array()) return fail("/ports", "expected an array, got %s", describe(v).c_str());
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string path = "/ports/" + std::to_string(i);
      STRATA_CHECK(expectObject(v[i], path, {"name", "gbps"}));
      PortSpec p;
      if (!v[i].contains("name")) return fail(path + "/name", "missing (a string)");
      STRATA_CHECK(string(v[i]["name"], path + "/name", p.name));
      if (p.name.empty()) return fail(path + "/name", "must not be empty");
      for (const PortSpec& q : t.ports)
        if (q.name == p.name)
          return fail(path + "/name", "port '%s' is defined twice", p.name.c_str());
      if (!v[i].contains("gbps")) return fail(path + "/gbps", "missing (GB/s per direction)");
      STRATA_CHECK(number(v[i]["gbps"], path + "/gbps", true, p.gbps));
      t.ports.push_back(std::move(p));
    }
    return Status::ok();
  }

  static Status readGroups(const Json& v, const std::string& path, int n, std::vector<int>& out) {
    if (!v.is_array())
      return fail(path, "expected an array of rank arrays, got %s", describe(v).c_str());
    out.assign(static_cast<size_t>(n), -1);
    for (size_t g = 0; g < v.size(); ++g) {
      const std::string gp = path + "/" + std::to_string(g);
      if (!v[g].is_array() || v[g].empty())
        return fail(gp, "expected a non-empty array of ranks, got %s", describe(v[g]).c_str());
      for (size_t k = 0; k < v[g].size(); ++k) {
        int r = 0;
        STRATA_CHECK(integer(v[g][k], gp + "/" + std::to_string(k), 0, n - 1, r));
        if (out[static_cast<size_t>(r)] >= 0)
          return fail(gp + "/" + std::to_string(k), "rank %d is already in group %d", r,
                      out[static_cast<size_t>(r)]);
        out[static_cast<size_t>(r)] = static_cast<int>(g);
      }
    }
    for (int r = 0; r < n; ++r)
      if (out[static_cast<size_t>(r)] < 0) return fail(path, "rank %d is in no group", r);
    out = normalizeGroups(out);
    return Status::ok();
  }

  static Status readLevels(const Json& v, Topology& t) {
    if (!v.is_array() || v.empty())
      return fail("/levels", "expected a non-empty array, got %s", describe(v).c_str());
    if (v.size() > static_cast<size_t>(kMaxLevels))
      return fail("/levels", "%zu levels, at most %d are supported", v.size(), kMaxLevels);
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string path = "/levels/" + std::to_string(i);
      const Json& lv = v[i];
      STRATA_CHECK(expectObject(lv, path, {"name", "link", "port", "groupSize", "groups"}));
      LevelSpec level;
      if (!lv.contains("name")) return fail(path + "/name", "missing (a string)");
      STRATA_CHECK(string(lv["name"], path + "/name", level.name));
      if (!lv.contains("link"))
        return fail(path + "/link", "missing ({\"alphaUs\": ..., \"gbps\": ...})");
      const Json& link = lv["link"];
      STRATA_CHECK(expectObject(link, path + "/link", {"alphaUs", "gbps"}));
      if (!link.contains("alphaUs")) return fail(path + "/link/alphaUs", "missing (microseconds)");
      STRATA_CHECK(number(link["alphaUs"], path + "/link/alphaUs", false, level.link.alphaUs));
      if (!link.contains("gbps")) return fail(path + "/link/gbps", "missing (GB/s per direction)");
      STRATA_CHECK(number(link["gbps"], path + "/link/gbps", true, level.link.gbps));
      if (lv.contains("port") && !lv["port"].is_null()) {
        std::string port;
        STRATA_CHECK(string(lv["port"], path + "/port", port));
        for (size_t p = 0; p < t.ports.size(); ++p)
          if (t.ports[p].name == port) level.port = static_cast<int>(p);
        if (level.port < 0) return fail(path + "/port", "no port is named '%s'", port.c_str());
      }
      if (lv.contains("groupSize") && lv.contains("groups"))
        return fail(path, "has both groupSize and groups; give one");
      if (lv.contains("groupSize")) {
        int size = 0;
        STRATA_CHECK(integer(lv["groupSize"], path + "/groupSize", 1, t.nranks, size));
        if (t.nranks % size != 0)
          return fail(path + "/groupSize", "%d does not divide the %d ranks", size, t.nranks);
        level.groupOf = consecutiveGroups(t.nranks, size);
      } else if (lv.contains("groups")) {
        STRATA_CHECK(readGroups(lv["groups"], path + "/groups", t.nranks, level.groupOf));
      } else {
        level.groupOf.assign(static_cast<size_t>(t.nranks), 0);
      }
      t.levels.push_back(std::move(level));
    }
    return Status::ok();
  }

  static Status readHardware(const Json& v, const std::string& path, HostHardware& hw) {
    STRATA_CHECK(
        expectObject(v, path, {"packages", "numaNodes", "cores", "pus", "memoryBytes", "caches"}));
    const int kMax = std::numeric_limits<int>::max();
    struct {
      const char* key;
      int* out;
    } counts[] = {{"packages", &hw.packages},
                  {"numaNodes", &hw.numaNodes},
                  {"cores", &hw.cores},
                  {"pus", &hw.pus}};
    for (auto& c : counts)
      if (v.contains(c.key)) STRATA_CHECK(integer(v[c.key], path + "/" + c.key, 0, kMax, *c.out));
    if (v.contains("memoryBytes"))
      STRATA_CHECK(unsignedInt(v["memoryBytes"], path + "/memoryBytes", hw.memoryBytes));
    if (!v.contains("caches")) return Status::ok();
    const Json& caches = v["caches"];
    if (!caches.is_array())
      return fail(path + "/caches", "expected an array, got %s", describe(caches).c_str());
    for (size_t i = 0; i < caches.size(); ++i) {
      const std::string cp = path + "/caches/" + std::to_string(i);
      STRATA_CHECK(expectObject(caches[i], cp, {"level", "type", "sizeBytes", "count"}));
      CacheInfo c;
      // Required: a cache without its level says nothing, and could not be written back.
      if (!caches[i].contains("level")) return fail(cp + "/level", "missing (an integer, 1 to 8)");
      STRATA_CHECK(integer(caches[i]["level"], cp + "/level", 1, 8, c.depth));
      STRATA_CHECK(optionalString(caches[i], cp, "type", c.type));
      if (caches[i].contains("sizeBytes"))
        STRATA_CHECK(unsignedInt(caches[i]["sizeBytes"], cp + "/sizeBytes", c.sizeBytes));
      if (caches[i].contains("count"))
        STRATA_CHECK(integer(caches[i]["count"], cp + "/count", 0, kMax, c.count));
      hw.caches.push_back(std::move(c));
    }
    return Status::ok();
  }

  static Status readHosts(const Json& v, Topology& t) {
    if (!v.is_array()) return fail("/hosts", "expected an array, got %s", describe(v).c_str());
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string path = "/hosts/" + std::to_string(i);
      STRATA_CHECK(expectObject(v[i], path, {"id", "ranks", "hardware"}));
      HostInfo h;
      if (!v[i].contains("id")) return fail(path + "/id", "missing (a string)");
      STRATA_CHECK(string(v[i]["id"], path + "/id", h.id));
      if (v[i].contains("ranks")) {
        const Json& ranks = v[i]["ranks"];
        if (!ranks.is_array())
          return fail(path + "/ranks", "expected an array, got %s", describe(ranks).c_str());
        for (size_t k = 0; k < ranks.size(); ++k) {
          int r = 0;
          STRATA_CHECK(integer(ranks[k], path + "/ranks/" + std::to_string(k), 0, t.nranks - 1, r));
          h.ranks.push_back(r);
        }
      }
      if (v[i].contains("hardware")) {
        HostHardware hw;
        STRATA_CHECK(readHardware(v[i]["hardware"], path + "/hardware", hw));
        h.hardware = std::move(hw);
      }
      t.hosts.push_back(std::move(h));
    }
    return Status::ok();
  }
};

Json levelToJson(const Topology& t, const LevelSpec& lv) {
  Json j;
  j["name"] = lv.name;
  j["link"] = {{"alphaUs", lv.link.alphaUs}, {"gbps", lv.link.gbps}};
  if (lv.port >= 0) j["port"] = t.ports[static_cast<size_t>(lv.port)].name;
  int first = 0;
  for (int g : lv.groupOf) first += g == 0 ? 1 : 0;
  if (first == t.nranks) return j;
  if (t.nranks % first == 0 && lv.groupOf == consecutiveGroups(t.nranks, first)) {
    j["groupSize"] = first;
    return j;
  }
  std::vector<std::vector<int>> groups;
  for (size_t r = 0; r < lv.groupOf.size(); ++r) {
    const size_t g = static_cast<size_t>(lv.groupOf[r]);
    if (groups.size() <= g) groups.resize(g + 1);
    groups[g].push_back(static_cast<int>(r));
  }
  j["groups"] = groups;
  return j;
}

Json hardwareToJson(const HostHardware& hw) {
  Json j;
  j["packages"] = hw.packages;
  j["numaNodes"] = hw.numaNodes;
  j["cores"] = hw.cores;
  j["pus"] = hw.pus;
  j["memoryBytes"] = hw.memoryBytes;
  j["caches"] = Json::array();
  for (const CacheInfo& c : hw.caches)
    j["caches"].push_back(
        {{"level", c.depth}, {"type", c.type}, {"sizeBytes", c.sizeBytes}, {"count", c.count}});
  return j;
}

}  // namespace

Result<Topology> parseTopologyJson(const std::string& text, const std::string& source) {
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::exception& e) {  // parse errors, and numbers too large for any type
    return makeError(strataInvalidArgument, "%s: not valid JSON: %s", source.c_str(), e.what());
  }
  Topology t;
  TopologyReader reader;
  Status s;
  try {
    s = reader.read(root, t);
  } catch (const Json::exception& e) {  // the reader checks types first; this is a backstop
    s = makeError(strataInvalidArgument, "unreadable value: %s", e.what());
  }
  if (s.isOk()) s = t.validate();
  if (!s.isOk()) return s.context(source);
  return t;
}

std::string topologyToJson(const Topology& t) {
  Json j;
  j["version"] = kFormatVersion;
  j["name"] = t.name;
  if (!t.description.empty()) j["description"] = t.description;
  j["ranks"] = t.nranks;
  j["ports"] = Json::array();
  for (const PortSpec& p : t.ports) j["ports"].push_back({{"name", p.name}, {"gbps", p.gbps}});
  j["levels"] = Json::array();
  for (const LevelSpec& lv : t.levels) j["levels"].push_back(levelToJson(t, lv));
  j["compute"] = {{"reduceGbps", t.reduceGbps}};
  if (!t.hosts.empty()) {
    j["hosts"] = Json::array();
    for (const HostInfo& h : t.hosts) {
      Json hj;
      hj["id"] = h.id;
      hj["ranks"] = h.ranks;
      if (h.hardware) hj["hardware"] = hardwareToJson(*h.hardware);
      j["hosts"].push_back(std::move(hj));
    }
  }
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

Result<Topology> loadTopologyFile(const std::string& path) {
  auto text = readWholeFile(path);
  if (!text.isOk())
    return makeError(text.status().code(), "topology file %s", text.status().message().c_str());
  return parseTopologyJson(text.value(), "topology file '" + path + "'");
}

Status dumpTopologyFile(const Topology& topo, const std::string& path) {
  // Owner-only, like every file Strata creates.
  Status s = writeWholeFile(path, topologyToJson(topo), 0600);
  if (!s.isOk()) return makeError(s.code(), "topology dump file %s", s.message().c_str());
  return Status::ok();
}

void dumpTopologyToEnvFile(const Topology& topo) {
  STRATA_INFO(Subsys::kInit | Subsys::kTopo, "%s", describeLevels(topo).c_str());
  const char* path = std::getenv("STRATA_TOPO_DUMP_FILE");
  if (!path || !*path) return;
  Status s = dumpTopologyFile(topo, path);
  if (!s.isOk()) {
    STRATA_WARN("STRATA_TOPO_DUMP_FILE: %s", s.message().c_str());
    return;
  }
  STRATA_INFO(Subsys::kTopo, "topology '%s' (%d ranks) written to %s", topo.name.c_str(),
              topo.nranks, path);
}

}  // namespace strata
