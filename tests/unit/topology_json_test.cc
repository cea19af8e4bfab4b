// The topology model, its presets, the JSON file format and hwloc discovery.
#include "topology/topology_json.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "base/host_id.h"
#include "topology/hwloc_discovery.h"
#include "topology/presets/presets.h"
#include "topology/topology.h"

namespace strata {
namespace {

// A file in the test's temporary directory, removed afterwards.
class TempFile {
 public:
  explicit TempFile(const std::string& name)
      : path_(::testing::TempDir() + "strata-topo-" + std::to_string(getpid()) + "-" + name) {}
  ~TempFile() { std::remove(path_.c_str()); }
  void write(const std::string& text) const {
    std::ofstream out(path_);
    out << text;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Topology irregular() {
  Topology t;
  t.name = "irregular";
  t.description = "uneven hosts, explicit groups";
  t.nranks = 5;
  t.ports = {{"nvl", 300.0}, {"nic", 12.5}};
  LevelSpec a;
  a.name = "intra";
  a.link = {0.75, 150.5};
  a.port = 0;
  a.groupOf = {0, 1, 0, 1, 1};
  LevelSpec b;
  b.name = "inter";
  b.link = {3.25, 12.5};
  b.port = 1;
  b.groupOf = {0, 0, 0, 0, 0};
  t.levels = {a, b};
  t.reduceGbps = 123.456;
  HostInfo h0;
  h0.id = "alpha:boot-1";
  h0.ranks = {0, 2};
  HostHardware hw;
  hw.packages = 2;
  hw.numaNodes = 4;
  hw.cores = 64;
  hw.pus = 128;
  hw.memoryBytes = 1ull << 38;
  hw.caches = {{1, "data", 49152, 64}, {3, "unified", 1ull << 25, 4}};
  h0.hardware = hw;
  HostInfo h1;
  h1.id = "beta:boot-2";
  h1.ranks = {1, 3, 4};
  t.hosts = {h0, h1};
  return t;
}

TEST(TopologyPresets, ShapesAndLevels) {
  struct Want {
    const char* name;
    int ranks;
    size_t levels;
  } wants[] = {{"hccs-8", 8, 1},
               {"hccs-2x8", 16, 2},
               {"hccs-4x8", 32, 2},
               {"cm384", 384, 2},
               {"cm384:64", 64, 2}};
  for (const Want& w : wants) {
    auto t = topologyPreset(w.name);
    ASSERT_TRUE(t.isOk()) << w.name << ": " << t.status().message();
    EXPECT_EQ(t.value().name, w.name);
    EXPECT_EQ(t.value().nranks, w.ranks) << w.name;
    EXPECT_EQ(t.value().levels.size(), w.levels) << w.name;
    EXPECT_TRUE(t.value().validate().isOk()) << w.name;
  }
  const Topology two = topologyPreset("hccs-2x8").value();
  EXPECT_EQ(two.levelOf(0, 7), 0);
  EXPECT_EQ(two.levelOf(7, 8), 1);
  EXPECT_EQ(two.levelOf(9, 15), 0);
  EXPECT_EQ(two.ports[static_cast<size_t>(two.levels[1].port)].gbps, 25.0);
  const Topology cm = topologyPreset("cm384").value();
  EXPECT_EQ(cm.levelOf(0, 7), 0);
  EXPECT_EQ(cm.levelOf(7, 8), 1);
  EXPECT_EQ(cm.levelOf(383, 376), 0);
  EXPECT_EQ(cm.levels[0].port, cm.levels[1].port);  // one UB port for both levels
  for (const std::string& name : presetNames()) EXPECT_TRUE(topologyPreset(name).isOk()) << name;
}

TEST(TopologyPresets, BadNamesAreErrors) {
  for (const char* name : {"hccs-0x8", "hccs-x8", "hccs-9", "cm384:0", "cm384:385", "cm384:abc"}) {
    auto t = resolveTopology(name);
    ASSERT_FALSE(t.isOk()) << name;
    EXPECT_EQ(t.status().code(), strataInvalidArgument);
    EXPECT_NE(t.status().message().find("unknown topology preset"), std::string::npos)
        << t.status().message();
  }
}

TEST(TopologyModel, SubsetKeepsLevels) {
  const Topology two = topologyPreset("hccs-2x8").value();
  const Topology sub = two.subset({0, 8, 1});
  ASSERT_TRUE(sub.validate().isOk()) << sub.validate().message();
  EXPECT_EQ(sub.nranks, 3);
  EXPECT_EQ(sub.levelOf(0, 1), 1);
  EXPECT_EQ(sub.levelOf(0, 2), 0);
  EXPECT_EQ(sub.levelsFrom(1), (std::vector<uint8_t>{1, 0, 1}));
}

TEST(TopologyModel, FromHosts) {
  HostInfo local;
  local.id = "b";
  local.hardware = HostHardware{1, 1, 2, 4, 1 << 20, {}};
  const Topology t = topologyFromHosts({"a", "a", "b", "b", "a"}, local);
  ASSERT_TRUE(t.validate().isOk()) << t.validate().message();
  ASSERT_EQ(t.levels.size(), 2u);
  EXPECT_EQ(t.levels[0].name, "shm");
  EXPECT_EQ(t.levels[1].name, "tcp");
  EXPECT_EQ(t.levelOf(0, 4), 0);
  EXPECT_EQ(t.levelOf(1, 2), 1);
  ASSERT_EQ(t.hosts.size(), 2u);
  EXPECT_EQ(t.hosts[0].ranks, (std::vector<int>{0, 1, 4}));
  EXPECT_FALSE(t.hosts[0].hardware.has_value());
  ASSERT_TRUE(t.hosts[1].hardware.has_value());
  EXPECT_EQ(t.hosts[1].hardware->pus, 4);
  // One host: shared memory only.
  EXPECT_EQ(topologyFromHosts({"a", "a"}, std::nullopt).levels.size(), 1u);
  // A transport's price of the link between hosts replaces the built-in estimate.
  const Topology priced = withInterHostCost(t, 5e-6, 1.0 / 10e9);
  EXPECT_DOUBLE_EQ(priced.levels[1].link.alphaUs, 5.0);
  EXPECT_DOUBLE_EQ(priced.levels[1].link.gbps, 10.0);
}

TEST(TopologyJson, RoundTripsThroughLoadDumpLoad) {
  std::vector<Topology> all = {irregular()};
  for (const char* name : {"hccs-8", "hccs-2x8", "hccs-4x8", "cm384", "cm384:20"})
    all.push_back(topologyPreset(name).value());
  HostInfo local = discoverLocalHost();
  all.push_back(topologyFromHosts({"x", local.id, local.id}, local));
  for (const Topology& t : all) {
    TempFile file("roundtrip.json");
    ASSERT_TRUE(dumpTopologyFile(t, file.path()).isOk()) << t.name;
    auto first = loadTopologyFile(file.path());
    ASSERT_TRUE(first.isOk()) << t.name << ": " << first.status().message();
    EXPECT_EQ(first.value(), t) << t.name;
    const std::string text = topologyToJson(first.value());
    auto second = parseTopologyJson(text, "second");
    ASSERT_TRUE(second.isOk()) << second.status().message();
    EXPECT_EQ(second.value(), first.value()) << t.name;
    EXPECT_EQ(topologyToJson(second.value()), text) << t.name;
  }
}

TEST(TopologyJson, GroupsInAnyOrderAreNormalised) {
  const char* text = R"({"version": 1, "ranks": 4,
    "levels": [{"name": "a", "link": {"alphaUs": 1, "gbps": 2}, "groups": [[3, 1], [0, 2]]},
               {"name": "b", "link": {"alphaUs": 1, "gbps": 1}}]})";
  auto t = parseTopologyJson(text, "inline");
  ASSERT_TRUE(t.isOk()) << t.status().message();
  EXPECT_EQ(t.value().levels[0].groupOf, (std::vector<int>{0, 1, 0, 1}));
  EXPECT_EQ(t.value().levels[0].port, -1);
}

const char* kLevel = R"({"name": "l", "link": {"alphaUs": 1, "gbps": 50}})";

std::string withLevels(const std::string& levels, const std::string& extra = "") {
  return R"({"version": 1, "ranks": 8, )" + extra + R"("levels": )" + levels + "}";
}

TEST(TopologyJson, MalformedFilesNameThePathAndTheProblem) {
  const std::string l = kLevel;
  const std::string cases[][3] = {
      {"{", "", "not valid JSON"},
      {"[1, 2]", "/:", "expected an object"},
      {R"({"ranks": 8, "levels": [])", "", "not valid JSON"},
      {R"({"ranks": 8, "levels": [)" + l + "]}", "/version", "missing"},
      {R"({"version": 2, "ranks": 8, "levels": [)" + l + "]}", "/version",
       "format version 2 is not supported"},
      {R"({"version": 1, "ranks": "8", "levels": [)" + l + "]}", "/ranks", "expected an integer"},
      {R"({"version": 1, "ranks": 0, "levels": [)" + l + "]}", "/ranks", "outside"},
      {R"({"version": 1, "ranks": 8})", "/levels", "missing"},
      {withLevels("[]"), "/levels", "non-empty array"},
      {withLevels(R"([{"name": "l", "link": {"alphaUs": 1, "gbps": -1}}])"), "/levels/0/link/gbps",
       "must be positive"},
      {withLevels(R"([{"name": "l", "link": {"alphaUs": "fast", "gbps": 1}}])"),
       "/levels/0/link/alphaUs", "expected a number"},
      {withLevels(R"([{"name": "l", "link": {"gbps": 1}}])"), "/levels/0/link/alphaUs", "missing"},
      {withLevels(R"([{"name": "l", "lnk": {"alphaUs": 1, "gbps": 1}}])"), "/levels/0/lnk",
       "unknown key"},
      {withLevels(R"([{"name": "l", "port": "nic", "link": {"alphaUs": 1, "gbps": 1}}])"),
       "/levels/0/port", "no port is named 'nic'"},
      {withLevels(R"([{"name": "l", "groupSize": 3, "link": {"alphaUs": 1, "gbps": 1}}, )" + l +
                  "]"),
       "/levels/0/groupSize", "does not divide"},
      {withLevels(
           R"([{"name": "l", "groups": [[0,1,2,3],[3,4,5,6,7]], "link": {"alphaUs": 1, "gbps": 1}}, )" +
           l + "]"),
       "/levels/0/groups/1/0", "rank 3 is already in group 0"},
      {withLevels(
           R"([{"name": "l", "groups": [[0,1,2,3],[4,5,6]], "link": {"alphaUs": 1, "gbps": 1}}, )" +
           l + "]"),
       "/levels/0/groups", "rank 7 is in no group"},
      {withLevels(
           R"([{"name": "l", "groups": [[0,1,2,3],[4,5,6,9]], "link": {"alphaUs": 1, "gbps": 1}}, )" +
           l + "]"),
       "/levels/0/groups/1/3", "outside"},
      {withLevels(R"([{"name": "a", "groupSize": 2, "link": {"alphaUs": 1, "gbps": 1}},
                      {"name": "b", "groups": [[0,2,4,6],[1,3,5,7]], "link": {"alphaUs": 1, "gbps": 1}}, )" +
                  l + "]"),
       "/levels/1", "splits a group of level 0"},
      {withLevels(R"([{"name": "a", "groupSize": 4, "link": {"alphaUs": 1, "gbps": 1}}])"),
       "/levels/0", "ranks 0 and 4 share no group"},
      {withLevels("[" + l + "]", R"("ports": [{"name": "p", "gbps": 0}], )"), "/ports/0/gbps",
       "must be positive"},
      {withLevels("[" + l + "]",
                  R"("ports": [{"name": "p", "gbps": 1}, {"name": "p", "gbps": 2}], )"),
       "/ports/1/name", "defined twice"},
      {withLevels("[" + l + "]", R"("hosts": [{"id": "h", "ranks": [9]}], )"), "/hosts/0/ranks/0",
       "outside"},
      {withLevels("[" + l + "]",
                  R"("hosts": [{"id": "h", "hardware": {"caches": [{"level": 2, "sizeBytes": -5}]}}], )"),
       "/hosts/0/hardware/caches/0/sizeBytes", "non-negative integer"},
      // Found by fuzz_topology_json: a cache without its level was read, then written as level 0.
      {withLevels("[" + l + "]",
                  R"("hosts": [{"id": "h", "hardware": {"caches": [{"sizeBytes": 5}]}}], )"),
       "/hosts/0/hardware/caches/0/level", "missing"},
      {withLevels("[" + l + "]", R"("compute": {"reduceGbps": -1}, )"), "/compute/reduceGbps",
       "non-negative"},
      {withLevels("[" + l + ", " + l + ", " + l + ", " + l + ", " + l + "]"), "/levels",
       "at most 4"},
      {R"([[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])",
       "/:", "expected an object"},
  };
  for (const auto& c : cases) {
    TempFile file("bad.json");
    file.write(c[0]);
    auto t = loadTopologyFile(file.path());
    ASSERT_FALSE(t.isOk()) << c[0];
    const std::string msg = t.status().message();
    EXPECT_EQ(t.status().code(), strataInvalidArgument) << msg;
    EXPECT_NE(msg.find("topology file '" + file.path() + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c[1]), std::string::npos) << "want path " << c[1] << " in: " << msg;
    EXPECT_NE(msg.find(c[2]), std::string::npos) << "want '" << c[2] << "' in: " << msg;
  }
}

TEST(TopologyJson, DamagedTextNeverCrashes) {
  const std::string good = topologyToJson(irregular());
  // Every truncation, and deterministic single-byte damage, parses or fails cleanly.
  for (size_t len = 0; len + 1 < good.size(); ++len) {  // the last byte is a newline
    auto t = parseTopologyJson(good.substr(0, len), "truncated");
    EXPECT_FALSE(t.isOk()) << len;
  }
  const char replacements[] = {'"', '{', '}', '[', ']', ',', ':', '-', '0', '9', 'e', ' ', '\\'};
  uint32_t seed = 12345;
  for (int i = 0; i < 4000; ++i) {
    seed = seed * 1664525u + 1013904223u;
    std::string text = good;
    text[(seed >> 8) % text.size()] = replacements[(seed >> 24) % sizeof(replacements)];
    auto t = parseTopologyJson(text, "damaged");
    if (t.isOk())
      EXPECT_TRUE(t.value().validate().isOk());
    else
      EXPECT_EQ(t.status().code(), strataInvalidArgument);
  }
}

TEST(TopologyJson, MissingFileAndEmptySpec) {
  auto t = resolveTopology("/nonexistent/strata-topology.json");
  ASSERT_FALSE(t.isOk());
  EXPECT_NE(t.status().message().find("cannot be opened"), std::string::npos);
  EXPECT_FALSE(resolveTopology("").isOk());
}

TEST(TopologyJson, DumpFileFromEnvironment) {
  TempFile file("env-dump.json");
  ASSERT_EQ(setenv("STRATA_TOPO_DUMP_FILE", file.path().c_str(), 1), 0);
  const Topology t = topologyPreset("hccs-2x8").value();
  dumpTopologyToEnvFile(t);
  unsetenv("STRATA_TOPO_DUMP_FILE");
  auto back = loadTopologyFile(file.path());
  ASSERT_TRUE(back.isOk()) << back.status().message();
  EXPECT_EQ(back.value(), t);
}

TEST(HwlocDiscovery, DescribesThisHost) {
  auto hw = discoverHostHardware();
  ASSERT_TRUE(hw.isOk()) << hw.status().message();
  EXPECT_GE(hw.value().packages, 1);
  EXPECT_GE(hw.value().cores, 1);
  EXPECT_GE(hw.value().pus, hw.value().cores);
  EXPECT_GT(hw.value().memoryBytes, 0u);
  for (const CacheInfo& c : hw.value().caches) {
    EXPECT_GE(c.depth, 1);
    EXPECT_GT(c.count, 0);
  }
}

TEST(HwlocDiscovery, HostIdentityHonoursStrataHostId) {
  EXPECT_EQ(discoverLocalHost().id, localHostId());
  const char* old = std::getenv("STRATA_HOSTID");
  const std::string saved = old ? old : "";
  ASSERT_EQ(setenv("STRATA_HOSTID", "node-17", 1), 0);
  EXPECT_EQ(discoverLocalHost().id, "node-17");
  if (old)
    setenv("STRATA_HOSTID", saved.c_str(), 1);
  else
    unsetenv("STRATA_HOSTID");
}

}  // namespace
}  // namespace strata
