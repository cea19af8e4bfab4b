#include "bootstrap/inprocess_bootstrap.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace strata {
namespace {

// Runs body(rank) on one thread per rank and joins them all.
void runRanks(int nranks, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  for (int r = 0; r < nranks; ++r) threads.emplace_back(body, r);
  for (auto& t : threads) t.join();
}

BootstrapOptions shortTimeout(long ms = 100) {
  BootstrapOptions opts;
  opts.timeoutMs = ms;
  return opts;
}

TEST(InProcessBootstrap, CreatesOneBootstrapPerRank) {
  auto bs = createInProcessBootstraps(3, BootstrapOptions{});
  ASSERT_EQ(bs.size(), 3u);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(bs[r]->rank(), r);
    EXPECT_EQ(bs[r]->size(), 3);
  }
  EXPECT_TRUE(createInProcessBootstraps(0, BootstrapOptions{}).empty());
}

TEST(InProcessBootstrap, AllgatherOrdersBlobsByRankOverManyRounds) {
  constexpr int kRanks = 4;
  auto bs = createInProcessBootstraps(kRanks, BootstrapOptions{});
  std::vector<int> failures(kRanks, 0);
  runRanks(kRanks, [&](int r) {
    for (int round = 0; round < 50; ++round) {
      std::string mine = std::to_string(round) + "/" + std::to_string(r);
      auto all = bs[r]->allgather(mine);
      if (!all.isOk() || all.value().size() != kRanks) {
        ++failures[r];
        continue;
      }
      for (int i = 0; i < kRanks; ++i)
        if (all.value()[i] != std::to_string(round) + "/" + std::to_string(i)) ++failures[r];
    }
  });
  for (int r = 0; r < kRanks; ++r) EXPECT_EQ(failures[r], 0) << "rank " << r;
}

TEST(InProcessBootstrap, BarrierAndBcast) {
  constexpr int kRanks = 3;
  auto bs = createInProcessBootstraps(kRanks, BootstrapOptions{});
  std::vector<std::string> got(kRanks);
  std::vector<char> barrierOk(kRanks, 0);  // not vector<bool>: ranks write their own element at once
  runRanks(kRanks, [&](int r) {
    barrierOk[r] = bs[r]->barrier().isOk();
    auto v = bs[r]->bcast(r == 2 ? "from two" : "ignored", 2);
    if (v.isOk()) got[r] = v.value();
  });
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_TRUE(barrierOk[r]);
    EXPECT_EQ(got[r], "from two");
  }
}

TEST(InProcessBootstrap, SendRecvMatchesSourceAndTagInOrder) {
  auto bs = createInProcessBootstraps(3, BootstrapOptions{});
  ASSERT_TRUE(bs[0]->send(2, 7, "a").isOk());
  ASSERT_TRUE(bs[1]->send(2, 7, "from one").isOk());
  ASSERT_TRUE(bs[0]->send(2, 8, "tag eight").isOk());
  ASSERT_TRUE(bs[0]->send(2, 7, "b").isOk());
  ASSERT_TRUE(bs[2]->send(2, 1, "self").isOk());

  EXPECT_EQ(bs[2]->recv(0, 8).value(), "tag eight");
  EXPECT_EQ(bs[2]->recv(0, 7).value(), "a");
  EXPECT_EQ(bs[2]->recv(0, 7).value(), "b");
  EXPECT_EQ(bs[2]->recv(1, 7).value(), "from one");
  EXPECT_EQ(bs[2]->recv(2, 1).value(), "self");
}

TEST(InProcessBootstrap, RecvWaitsForALaterSend) {
  auto bs = createInProcessBootstraps(2, BootstrapOptions{});
  std::string got;
  std::thread receiver([&] {
    auto v = bs[1]->recv(0, 3);
    if (v.isOk()) got = v.value();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(bs[0]->send(1, 3, std::string(100000, 'x')).isOk());
  receiver.join();
  EXPECT_EQ(got, std::string(100000, 'x'));
}

TEST(InProcessBootstrap, RejectsPeersOutsideTheGroup) {
  auto bs = createInProcessBootstraps(2, BootstrapOptions{});
  EXPECT_EQ(bs[0]->send(2, 0, "x").code(), strataInvalidArgument);
  EXPECT_EQ(bs[0]->send(-1, 0, "x").code(), strataInvalidArgument);
  EXPECT_EQ(bs[1]->recv(5, 0).status().code(), strataInvalidArgument);
}

TEST(InProcessBootstrap, AllgatherTimeoutNamesMissingRanks) {
  auto bs = createInProcessBootstraps(4, shortTimeout(50));
  Status s;
  runRanks(2, [&](int r) {
    Status mine = bs[r]->allgather("x").status();
    if (r == 0) s = mine;
  });
  EXPECT_EQ(s.code(), strataTimeout);
  EXPECT_NE(s.message().find("allgather"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("2, 3"), std::string::npos) << s.message();
}

TEST(InProcessBootstrap, RecvTimeoutNamesThePeer) {
  auto bs = createInProcessBootstraps(2, shortTimeout(30));
  Status s = bs[0]->recv(1, 9).status();
  EXPECT_EQ(s.code(), strataTimeout);
  EXPECT_NE(s.message().find("recv"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("from rank 1"), std::string::npos) << s.message();
}

TEST(InProcessBootstrap, AbortEndsAWaitWithoutDeadline) {
  AbortFlag abort{false};
  BootstrapOptions opts;
  opts.timeoutMs = 0;
  opts.abort = &abort;
  auto bs = createInProcessBootstraps(2, opts);
  Status recvStatus, gatherStatus;
  std::thread receiver([&] { recvStatus = bs[0]->recv(1, 0).status(); });
  std::thread gatherer([&] { gatherStatus = bs[1]->allgather("x").status(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  abort.store(true);
  receiver.join();
  gatherer.join();
  EXPECT_EQ(recvStatus.code(), strataRemoteError);
  EXPECT_NE(recvStatus.message().find("aborted"), std::string::npos) << recvStatus.message();
  EXPECT_EQ(gatherStatus.code(), strataRemoteError);
}

TEST(InProcessBootstrap, ChildGroupsSplitTheParent) {
  constexpr int kRanks = 4;
  auto bs = createInProcessBootstraps(kRanks, BootstrapOptions{});
  std::vector<std::string> gathered(kRanks);
  std::vector<int> childSize(kRanks, 0), childRank(kRanks, -1);
  runRanks(kRanks, [&](int r) {
    // Ranks 0 and 1 each make an id; even ranks join rank 0's group, odd ranks rank 1's.
    std::string id = r < 2 ? bs[r]->newChildId().value() : std::string();
    auto ids = bs[r]->allgather(id);
    if (!ids.isOk()) return;
    auto child = bs[r]->joinChild(ids.value()[r % 2], r / 2, kRanks / 2);
    if (!child.isOk()) return;
    childSize[r] = child.value()->size();
    childRank[r] = child.value()->rank();
    auto all = child.value()->allgather(std::to_string(r));
    if (all.isOk()) gathered[r] = all.value()[0] + "," + all.value()[1];
  });
  EXPECT_EQ(gathered[0], "0,2");
  EXPECT_EQ(gathered[2], "0,2");
  EXPECT_EQ(gathered[1], "1,3");
  EXPECT_EQ(gathered[3], "1,3");
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_EQ(childSize[r], 2);
    EXPECT_EQ(childRank[r], r / 2);
  }
}

TEST(InProcessBootstrap, ChildIdsAreDistinct) {
  auto bs = createInProcessBootstraps(1, BootstrapOptions{});
  std::string a = bs[0]->newChildId().value();
  std::string b = bs[0]->newChildId().value();
  EXPECT_NE(a, b);
  EXPECT_GE(a.size(), 32u);
}

TEST(InProcessBootstrap, ChildJoinChecksRankAndSize) {
  auto bs = createInProcessBootstraps(3, BootstrapOptions{});
  std::string id = bs[0]->newChildId().value();
  EXPECT_EQ(bs[0]->joinChild(id, 3, 3).status().code(), strataInvalidArgument);
  auto first = bs[0]->joinChild(id, 0, 3);
  ASSERT_TRUE(first.isOk());
  EXPECT_EQ(bs[1]->joinChild(id, 1, 2).status().code(), strataInvalidArgument);
  EXPECT_EQ(bs[1]->joinChild(id, 0, 3).status().code(), strataInvalidArgument);
}

TEST(InProcessBootstrap, ChildInheritsTheParentsTimeout) {
  auto bs = createInProcessBootstraps(2, shortTimeout(30));
  std::string id = bs[0]->newChildId().value();
  auto child = bs[0]->joinChild(id, 0, 2);
  ASSERT_TRUE(child.isOk());
  Status s = child.value()->barrier();
  EXPECT_EQ(s.code(), strataTimeout);
  EXPECT_NE(s.message().find("rank(s) 1"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace strata
