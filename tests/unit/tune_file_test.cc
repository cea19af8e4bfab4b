// Tune files (STRATA_TUNE_FILE): the JSON format read back, every kind of malformed file refused
// with the path, the JSON pointer and the problem, a file for another topology refused naming both
// fingerprints, and the selector taking a file's entry after the tune string and before the model.
#include "scheduler/tune_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "scheduler/selector.h"
#include "scheduler/timing_only_call.h"
#include "scheduler/topology_fingerprint.h"
#include "topology/presets/presets.h"
#include "transports/sim/sim_transport.h"

namespace strata {
namespace {

constexpr const char* kValid = R"({
  "version": 1,
  "fingerprint": "8r-1l-0123456789abcdef",
  "topology": "hccs-8",
  "description": "written by hand",
  "levels": [{"level": 0, "alphaUs": 1.5, "gbps": 30, "fitR2": 0.999}],
  "entries": [
    {"collective": "allreduce", "minBytes": 0, "maxBytes": 65536, "ranks": 8, "dtype": "any",
     "algorithm": "ring", "timeUs": 14.5},
    {"collective": "allreduce", "minBytes": 65537, "ranks": [2, 16], "dtype": "16bit",
     "algorithm": "oneshot", "params": {"chunk": 262144}},
    {"collective": "ALLGATHER", "algorithm": "mesh"}
  ]
})";

TuneFile parsed(const std::string& text) {
  auto f = parseTuneFile(text, "/tmp/t.json");
  EXPECT_TRUE(f.isOk()) << f.status().message();
  return f.isOk() ? f.value() : TuneFile{};
}

std::string error(const std::string& text) {
  auto f = parseTuneFile(text, "/tmp/t.json");
  EXPECT_FALSE(f.isOk()) << text;
  if (f.isOk()) return {};
  EXPECT_EQ(f.status().code(), strataInvalidArgument);
  EXPECT_NE(f.status().message().find("/tmp/t.json"), std::string::npos) << "names the path";
  return f.status().message();
}

// A file with one entry (JSON text of its fields) and otherwise valid.
std::string withEntry(const std::string& entry) {
  return R"({"version": 1, "fingerprint": "x", "entries": [)" + entry + "]}";
}

#define EXPECT_HAS(haystack, needle)                                 \
  do {                                                               \
    const std::string h_ = (haystack);                               \
    EXPECT_NE(h_.find(needle), std::string::npos) << h_;             \
  } while (0)

TEST(TuneFile, ReadsEntriesLevelsAndParameters) {
  const TuneFile f = parsed(kValid);
  EXPECT_EQ(f.fingerprint, "8r-1l-0123456789abcdef");
  EXPECT_EQ(f.topologyName, "hccs-8");
  ASSERT_EQ(f.levels.size(), 1u);
  EXPECT_EQ(f.levels[0], (FittedLevel{0, 1.5, 30}));
  ASSERT_EQ(f.table.rules().size(), 3u);
  const TuneRule& small = f.table.rules()[0];
  EXPECT_EQ(small.algo, "ring");
  EXPECT_EQ(small.nlo, 8);
  EXPECT_EQ(small.nhi, 8);
  EXPECT_DOUBLE_EQ(small.measuredSeconds, 14.5e-6);
  const TuneRule& big = f.table.rules()[1];
  EXPECT_EQ(big.lo, 65537u);
  EXPECT_EQ(big.hi, static_cast<size_t>(-1)) << "maxBytes left out: unbounded";
  EXPECT_EQ(big.chunkBytes, 262144u);
  EXPECT_EQ(big.dtype, DtypeClass::k16Bit);
  EXPECT_EQ(f.table.rules()[2].coll, CollType::kAllGather) << "collectives are case-insensitive";

  EXPECT_EQ(f.table.lookup(CollType::kAllReduce, 65536, 8, DtypeClass::k32Bit)->algo, "ring");
  EXPECT_EQ(f.table.lookup(CollType::kAllReduce, 65536, 4, DtypeClass::k32Bit), nullptr)
      << "the entry is for 8 ranks";
  EXPECT_EQ(f.table.lookup(CollType::kAllReduce, 1 << 20, 8, DtypeClass::k16Bit)->algo, "oneshot");
  EXPECT_EQ(f.table.lookup(CollType::kAllReduce, 1 << 20, 8, DtypeClass::k32Bit), nullptr)
      << "the entry is for 16-bit types";

  const TuneFile again = parsed(tuneFileToJson(f));
  ASSERT_EQ(again.table.rules().size(), 3u);
  EXPECT_EQ(again.levels, f.levels);
  for (size_t i = 0; i < 3; ++i) {
    const TuneRule &a = f.table.rules()[i], &b = again.table.rules()[i];
    EXPECT_EQ(std::tie(a.coll, a.lo, a.hi, a.nlo, a.nhi, a.algo, a.chunkBytes, a.dtype),
              std::tie(b.coll, b.lo, b.hi, b.nlo, b.nhi, b.algo, b.chunkBytes, b.dtype))
        << "entry " << i;
  }
}

TEST(TuneFile, MalformedFilesNameThePointerAndTheProblem) {
  EXPECT_HAS(error("{\"version\": 1,"), "not valid JSON");
  EXPECT_HAS(error("[]"), "/: expected an object");
  EXPECT_HAS(error(R"({"fingerprint": "x", "entries": []})"), "/version: missing");
  EXPECT_HAS(error(R"({"version": 2, "fingerprint": "x", "entries": []})"),
             "/version: format version 2 is not supported");
  EXPECT_HAS(error(R"({"version": 1, "entries": []})"), "/fingerprint: missing");
  EXPECT_HAS(error(R"({"version": 1, "fingerprint": 7, "entries": []})"),
             "/fingerprint: expected a string");
  EXPECT_HAS(error(R"({"version": 1, "fingerprint": "x"})"), "/entries: missing");
  EXPECT_HAS(error(R"({"version": 1, "fingerprint": "x", "entries": {}})"),
             "/entries: expected an array");
  EXPECT_HAS(error(R"({"version": 1, "fingerprint": "x", "entries": [], "extra": 1})"),
             "/extra: unknown key");
  EXPECT_HAS(error(withEntry(R"({"collective": "allreduce"})")), "/entries/0/algorithm: missing");
  EXPECT_HAS(error(withEntry(R"({"collective": "allreduc", "algorithm": "ring"})")),
             "/entries/0/collective: unknown collective 'allreduc' (valid: allreduce");
  EXPECT_HAS(error(withEntry(R"({"collective": "allreduce", "algorithm": "nosuch"})")),
             "/entries/0/algorithm: no algorithm 'nosuch' for allreduce (valid: ring, ringpipe, "
             "oneshot");
  EXPECT_HAS(error(withEntry(R"({"collective": "allreduce", "algorithm": 3})")),
             "/entries/0/algorithm: expected a string, got 3");
  EXPECT_HAS(error(withEntry(R"({"collective": "allreduce", "algorithm": "ring", "minBytes": -1})")),
             "/entries/0/minBytes: -1 is negative");
  EXPECT_HAS(
      error(withEntry(R"({"collective": "allreduce", "algorithm": "ring", "maxBytes": "64k"})")),
      "/entries/0/maxBytes: expected a number of bytes");
  EXPECT_HAS(error(withEntry(
                 R"({"collective": "allreduce", "algorithm": "ring", "minBytes": 9, "maxBytes": 8})")),
             "/entries/0/maxBytes: the size range 9-8 starts after it ends");
  EXPECT_HAS(error(withEntry(R"({"collective": "allreduce", "algorithm": "ring", "ranks": 0})")),
             "/entries/0/ranks: 0 ranks is outside");
  EXPECT_HAS(
      error(withEntry(R"({"collective": "allreduce", "algorithm": "ring", "ranks": [8, 2]})")),
      "/entries/0/ranks: the rank range 8-2 starts after it ends");
  EXPECT_HAS(error(withEntry(R"({"collective": "allreduce", "algorithm": "ring", "ranks": [8]})")),
             "/entries/0/ranks: expected a rank count or [min, max]");
  EXPECT_HAS(
      error(withEntry(R"({"collective": "allreduce", "algorithm": "ring", "dtype": "float"})")),
      "/entries/0/dtype: unknown dtype class 'float' (valid: any, 8bit");
  EXPECT_HAS(error(withEntry(
                 R"({"collective": "allreduce", "algorithm": "ring", "params": {"chunk": 0}})")),
             "/entries/0/params/chunk: a chunk of 0 bytes");
  EXPECT_HAS(error(withEntry(
                 R"({"collective": "allreduce", "algorithm": "ring", "params": {"chunks": 8}})")),
             "/entries/0/params/chunks: unknown key (expected one of: chunk)");
  EXPECT_HAS(
      error(withEntry(R"({"collective": "allreduce", "algorithm": "ring", "timeUs": -3})")),
      "/entries/0/timeUs: -3 must be non-negative");
  EXPECT_HAS(error(withEntry(R"({"collective": "allreduce", "algorithm": "ring", "size": 8})")),
             "/entries/0/size: unknown key");
  EXPECT_HAS(error(withEntry(R"({"collective": "allreduce", "algorithm": "ring", "maxBytes": 100},
                                {"collective": "allreduce", "algorithm": "oneshot",
                                 "minBytes": 100, "dtype": "32bit"})")),
             "/entries/1: overlaps /entries/0 (both cover allreduce 100-100 bytes");
  EXPECT_HAS(error(R"({"version": 1, "fingerprint": "x", "entries": [],
                       "levels": [{"level": -1, "alphaUs": 1, "gbps": 1}]})"),
             "/levels/0/level: expected a level index");
  EXPECT_HAS(error(R"({"version": 1, "fingerprint": "x", "entries": [],
                       "levels": [{"level": 0, "alphaUs": 1, "gbps": 0}]})"),
             "/levels/0/gbps: 0 must be positive");
}

TEST(TuneFile, EntriesForOtherRanksDtypesOrCollectivesDoNotOverlap) {
  const TuneFile f = parsed(withEntry(
      R"({"collective": "allreduce", "algorithm": "ring", "ranks": 8},
         {"collective": "allreduce", "algorithm": "oneshot", "ranks": 4},
         {"collective": "allreduce", "algorithm": "oneshot", "ranks": [9, 16], "dtype": "16bit"},
         {"collective": "allreduce", "algorithm": "ring", "ranks": [9, 16], "dtype": "32bit"},
         {"collective": "allgather", "algorithm": "ring"})"));
  EXPECT_EQ(f.table.rules().size(), 5u);
}

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/strata_tune_XXXXXX";
    const int fd = mkstemp(name);
    path_ = name;
    std::ofstream(path_) << text;
    close(fd);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TuneFile fileFor(const Topology& t, const std::string& entries) {
  TuneFile f = parsed(withEntry(entries));
  f.fingerprint = topologyFingerprint(t);
  f.topologyName = t.name;
  return f;
}

TEST(TuneFile, AnotherTopologysFileIsRefusedNamingBothFingerprints) {
  const Topology hccs8 = topologyPreset("hccs-8").value();
  const Topology hccs2x8 = topologyPreset("hccs-2x8").value();
  const TempFile file(
      tuneFileToJson(fileFor(hccs2x8, R"({"collective": "allreduce", "algorithm": "ring"})")));
  auto use = tuneFileFor(file.path(), hccs8);
  ASSERT_TRUE(use.isOk()) << use.status().message();
  EXPECT_EQ(use.value().table, nullptr) << "a refused file is never used";
  EXPECT_HAS(use.value().refusal, topologyFingerprint(hccs2x8));
  EXPECT_HAS(use.value().refusal, topologyFingerprint(hccs8));
  EXPECT_HAS(use.value().refusal, file.path());

  auto mine = tuneFileFor(file.path(), hccs2x8);
  ASSERT_TRUE(mine.isOk());
  EXPECT_NE(mine.value().table, nullptr);
  EXPECT_TRUE(mine.value().refusal.empty());

  auto missing = tuneFileFor("/nonexistent/tune.json", hccs8);
  ASSERT_FALSE(missing.isOk());
  EXPECT_HAS(missing.status().message(), "/nonexistent/tune.json");
  EXPECT_TRUE(tuneFileFor("", hccs8).value().table == nullptr) << "no file: nothing";
}

CollArgs allReduce(size_t bytes) {
  CollArgs a;
  a.coll = CollType::kAllReduce;
  a.count = bytes / 4;
  a.dtype = strataFloat32;
  return a;
}

// On hccs-8 the model picks oneshot for a 16 KiB AllReduce (tests/unit/selector_test.cc); a tune
// file pinning ring there changes the choice and the simulated time, the tune string still wins.
TEST(TuneFile, ChangesTheSelectionOnTheSimAfterTheTuneString) {
  const Topology t = topologyPreset("hccs-8").value();
  const TempFile file(tuneFileToJson(fileFor(
      t, R"({"collective": "allreduce", "maxBytes": 65536, "ranks": 8, "algorithm": "ring"})")));
  const TuneFileUse use = tuneFileFor(file.path(), t).value();
  auto model = evaluateTimingOnly(t, allReduce(16 << 10), TuneTable{});
  auto tuned = evaluateTimingOnly(t, allReduce(16 << 10), TuneTable{}, use);
  auto pinned =
      evaluateTimingOnly(t, allReduce(16 << 10), TuneTable::parse("allreduce:@oneshot", "t").value(),
                         use);
  auto outside = evaluateTimingOnly(t, allReduce(1 << 20), TuneTable{}, use);
  ASSERT_TRUE(model.isOk() && tuned.isOk() && pinned.isOk() && outside.isOk());
  EXPECT_EQ(model.value().algo, "oneshot");
  EXPECT_STREQ(model.value().algoSource, "model");
  EXPECT_EQ(tuned.value().algo, "ring");
  EXPECT_STREQ(tuned.value().algoSource, "tune file");
  EXPECT_GT(tuned.value().maxEndPs, model.value().maxEndPs);
  EXPECT_EQ(pinned.value().algo, "oneshot");
  EXPECT_STREQ(pinned.value().algoSource, "tune string");
  EXPECT_STREQ(outside.value().algoSource, "model") << "1 MiB is outside the entry";
}

// Fitted levels replace the topology's figures in the model: with a level-0 α of 1 ms every
// message costs at least 1 ms, so the ring's 14 steps cost at least 14 ms.
TEST(TuneFile, FittedLevelsRepriceTheCandidates) {
  const Topology t = topologyPreset("hccs-8").value();
  CommShape s;
  s.nranks = 8;
  s.chunkBytes = kSimChunkBytes;
  s.put = true;
  s.forwarding = false;
  SelectionContext ctx =
      makeSelectionContext(s, std::make_shared<const Topology>(t), /*modelsTime=*/true);
  auto ringPrice = [&](const SelectionContext& c) {
    for (const PricedCandidate& p : priceCandidates(allReduce(16 << 10), c))
      if (std::string(p.algo->name()) == "ring") return p.seconds;
    return -1.0;
  };
  const double before = ringPrice(ctx);
  EXPECT_GT(before, 0);
  EXPECT_LT(before, 1e-3);
  applyFittedLevels(ctx, {{0, 1000.0, t.levels[0].link.gbps}});
  EXPECT_FALSE(ctx.modelTag.empty());
  EXPECT_GE(ringPrice(ctx), 14e-3) << "priced with the fitted α, not the preset's";
}

}  // namespace
}  // namespace strata
