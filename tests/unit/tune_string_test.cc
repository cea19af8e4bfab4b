// The tune-string grammar: size ranges, rank-count scopes, per-entry parameters, and errors that
// name the offset and the problem (an unknown algorithm lists the valid ones).
#include "scheduler/tune_string.h"

#include <gtest/gtest.h>

namespace strata {
namespace {

TuneTable parsed(const std::string& spec) {
  auto t = TuneTable::parse(spec, "STRATA_ALGO");
  EXPECT_TRUE(t.isOk()) << t.status().message();
  return t.isOk() ? t.value() : TuneTable{};
}

std::string error(const std::string& spec) {
  auto t = TuneTable::parse(spec, "STRATA_ALGO");
  EXPECT_FALSE(t.isOk()) << spec;
  if (t.isOk()) return {};
  EXPECT_EQ(t.status().code(), strataInvalidArgument);
  return t.status().message();
}

TEST(TuneString, RangesRankScopesAndChunks) {
  const TuneTable t = parsed(
      "allreduce:0-64k:@oneshot#allreduce:n=2-4:64k-inf:@ring:chunk=256k#allreduce:@ringpipe");
  ASSERT_EQ(t.rules().size(), 3u);
  EXPECT_EQ(t.lookup(CollType::kAllReduce, 100, 8)->algo, "oneshot");
  EXPECT_EQ(t.lookup(CollType::kAllReduce, 65536, 8)->algo, "oneshot") << "ranges are inclusive";
  const TuneRule* big = t.lookup(CollType::kAllReduce, 1 << 20, 4);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->algo, "ring");
  EXPECT_EQ(big->chunkBytes, 256u * 1024);
  EXPECT_EQ(t.lookup(CollType::kAllReduce, 1 << 20, 8)->algo, "ringpipe")
      << "8 ranks are outside n=2-4";
  EXPECT_EQ(t.lookup(CollType::kBroadcast, 8, 8), nullptr);
  EXPECT_EQ(parsed("ALLGATHER:n=3-inf:@mesh").lookup(CollType::kAllGather, 1, 100)->algo, "mesh");
  EXPECT_TRUE(parsed("").empty());
}

TEST(TuneString, ErrorsNameTheOffsetAndTheProblem) {
  EXPECT_NE(error("allreduce:@nosuch").find("offset 11"), std::string::npos);
  EXPECT_NE(error("allreduce:@nosuch")
                .find("no algorithm 'nosuch' for allreduce (valid: ring, "
                      "ringpipe, oneshot"),
            std::string::npos)
      << error("allreduce:@nosuch");
  EXPECT_NE(error("allreduce:@ring#allgathr:@ring").find("offset 16"), std::string::npos);
  EXPECT_NE(error("allreduce:@ring#allgathr:@ring").find("unknown collective 'allgathr'"),
            std::string::npos);
  EXPECT_NE(error("allreduce:0-6x:@ring")
                .find("offset 12 in entry 'allreduce:0-6x:@ring': bad "
                      "size '6x'"),
            std::string::npos);
  EXPECT_NE(error("allreduce:64k-1k:@ring").find("size range starts after it ends"),
            std::string::npos);
  EXPECT_NE(error("allreduce:n=8-2:@ring").find("rank-count scope starts after it ends"),
            std::string::npos);
  EXPECT_NE(error("allreduce:n=a-2:@ring").find("bad rank-count scope"), std::string::npos);
  EXPECT_NE(error("allreduce:0-1k").find("missing the algorithm"), std::string::npos);
  EXPECT_NE(error("allreduce:@ring:chunk=0").find("bad chunk size '0'"), std::string::npos);
  EXPECT_NE(error("allreduce:@ring:depth=2").find("unknown parameter 'depth=2'"),
            std::string::npos);
  EXPECT_NE(error("allreduce:0-1k:0-2k:@ring").find("a second size range"), std::string::npos);
}

TEST(TuneString, RankScopeIsInclusiveAndGoesBeforeOrAfterTheSizeRange) {
  const TuneTable t = parsed("allreduce:n=4-8:0-1k:@oneshot#allreduce:2k-inf:n=16-16:@ring");
  ASSERT_EQ(t.rules().size(), 2u);
  EXPECT_EQ(t.lookup(CollType::kAllReduce, 100, 3), nullptr) << "3 ranks are below n=4-8";
  EXPECT_EQ(t.lookup(CollType::kAllReduce, 100, 4)->algo, "oneshot") << "the low end is in";
  EXPECT_EQ(t.lookup(CollType::kAllReduce, 1024, 8)->algo, "oneshot") << "the high end is in";
  EXPECT_EQ(t.lookup(CollType::kAllReduce, 100, 9), nullptr) << "9 ranks are above n=4-8";
  EXPECT_EQ(t.lookup(CollType::kAllReduce, 1 << 20, 16)->algo, "ring");
  EXPECT_EQ(t.lookup(CollType::kAllReduce, 1 << 20, 15), nullptr);
  EXPECT_EQ(t.lookup(CollType::kAllReduce, 1 << 20, 17), nullptr);
  EXPECT_EQ(t.lookup(CollType::kAllReduce, 1500, 16), nullptr) << "between the size ranges";
  // With a size range and parameters as well, and the scope alone.
  const TuneTable withParams = parsed("broadcast:n=2-inf:1m-inf:@chain:chunk=64k");
  const TuneRule* r = withParams.lookup(CollType::kBroadcast, 4 << 20, 1000);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->algo, "chain");
  EXPECT_EQ(r->chunkBytes, 64u << 10);
  const TuneTable one = parsed("allgather:n=1-1:@ring");
  EXPECT_EQ(one.lookup(CollType::kAllGather, 8, 1)->algo, "ring");
  EXPECT_EQ(one.lookup(CollType::kAllGather, 8, 2), nullptr);
}

TEST(TuneString, MalformedRankScopesNameTheOffsetAndTheProblem) {
  for (const char* spec : {"allreduce:n=8:@ring", "allreduce:n=2-:@ring", "allreduce:n=-4:@ring",
                           "allreduce:n=:@ring", "allreduce:n=1-2-3:@ring",
                           "allreduce:n=2k-4k:@ring", "allreduce:n=1-9999999999:@ring"}) {
    const std::string e = error(spec);
    EXPECT_NE(e.find("offset 10 in entry"), std::string::npos) << spec << ": " << e;
    EXPECT_NE(e.find("bad rank-count scope"), std::string::npos) << spec << ": " << e;
  }
  EXPECT_NE(error("allreduce:n=inf-2:@ring").find("rank-count scope starts after it ends"),
            std::string::npos);
  const std::string twice = error("allreduce:n=1-2:0-1k:n=3-4:@ring");
  EXPECT_NE(twice.find("offset 21"), std::string::npos) << twice;
  EXPECT_NE(twice.find("a second rank-count scope"), std::string::npos) << twice;
  // After the algorithm, n= is a parameter, and not a known one.
  EXPECT_NE(error("allreduce:@ring:n=2-4").find("unknown parameter 'n=2-4'"), std::string::npos);
}

TEST(TuneString, SizesPrintAsTheyParse) {
  for (size_t v : {size_t{0}, size_t{8}, size_t{1000}, size_t{65536}, size_t{3} << 20,
                   static_cast<size_t>(-1)}) {
    size_t back = 1;
    ASSERT_TRUE(parseByteSize(formatByteSize(v), &back)) << formatByteSize(v);
    EXPECT_EQ(back, v);
  }
  EXPECT_EQ(formatByteSize(65536), "64k");
}

}  // namespace
}  // namespace strata
