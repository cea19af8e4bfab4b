// Handles used after they were destroyed: every call rejects them with strataInvalidArgument
// naming the argument, and never reads through them (the live-handle registry is consulted
// first; run under AddressSanitizer this shows no use after free). The tests only pass the
// stale pointer values on; they never read through them themselves.
#include <string>

#include "coll/coll_harness.h"

namespace strata::test {
namespace {

std::string lastError() { return strataGetLastError(nullptr); }

TEST(HandleMisuseTest, DestroyedCommunicatorIsRejectedByEveryKindOfCall) {
  strataComm_t comm = nullptr;
  ASSERT_EQ(strataCommInitAll(&comm, 1, nullptr), strataSuccess) << lastError();
  ASSERT_EQ(strataCommDestroy(comm), strataSuccess);
  const strataComm_t stale = comm;  // the value only

  float x = 1.f;
  EXPECT_EQ(strataAllReduce(&x, &x, 1, strataFloat32, strataSum, stale, nullptr),
            strataInvalidArgument);
  EXPECT_NE(lastError().find("strataAllReduce: comm is not a valid communicator"),
            std::string::npos)
      << lastError();
  int n = 0;
  EXPECT_EQ(strataCommCount(stale, &n), strataInvalidArgument);
  EXPECT_NE(lastError().find("strataCommCount: comm"), std::string::npos) << lastError();
  EXPECT_EQ(strataBarrier(stale, nullptr), strataInvalidArgument);
  // A second destroy and an abort of the destroyed handle are errors, not double frees.
  EXPECT_EQ(strataCommDestroy(stale), strataInvalidArgument);
  EXPECT_NE(lastError().find("already destroyed"), std::string::npos) << lastError();
  EXPECT_EQ(strataCommAbort(stale), strataInvalidArgument);
  strataResult_t async = strataSuccess;
  EXPECT_EQ(strataCommGetAsyncError(stale, &async), strataInvalidArgument);
  // The last error of a destroyed communicator falls back to this thread's last error.
  EXPECT_EQ(std::string(strataGetLastError(stale)), lastError());
}

TEST(HandleMisuseTest, AbortedCommunicatorIsRejected) {
  strataComm_t comm = nullptr;
  ASSERT_EQ(strataCommInitAll(&comm, 1, nullptr), strataSuccess) << lastError();
  ASSERT_EQ(strataCommAbort(comm), strataSuccess);
  float x = 1.f;
  EXPECT_EQ(strataBroadcast(&x, &x, 1, strataFloat32, 0, comm, nullptr), strataInvalidArgument);
  EXPECT_NE(lastError().find("strataBroadcast: comm is not a valid communicator"),
            std::string::npos)
      << lastError();
}

TEST(HandleMisuseTest, DestroyedStreamIsRejected) {
  strataComm_t comm = nullptr;
  ASSERT_EQ(strataCommInitAll(&comm, 1, nullptr), strataSuccess) << lastError();
  strataStream_t stream = nullptr;
  ASSERT_EQ(strataStreamCreate(&stream), strataSuccess);
  ASSERT_EQ(strataStreamDestroy(stream), strataSuccess);
  EXPECT_EQ(strataStreamSynchronize(stream), strataInvalidArgument);
  EXPECT_NE(lastError().find("strataStreamSynchronize: stream is not a valid stream"),
            std::string::npos)
      << lastError();
  EXPECT_EQ(strataStreamDestroy(stream), strataInvalidArgument);
  float x = 1.f;
  EXPECT_EQ(strataAllReduce(&x, &x, 1, strataFloat32, strataSum, comm, stream),
            strataInvalidArgument);
  EXPECT_NE(lastError().find("stream"), std::string::npos) << lastError();
  EXPECT_EQ(strataCommDestroy(comm), strataSuccess);
}

TEST(HandleMisuseTest, CommunicatorIsNotAcceptedAsAStreamNorTheReverse) {
  strataComm_t comm = nullptr;
  ASSERT_EQ(strataCommInitAll(&comm, 1, nullptr), strataSuccess) << lastError();
  strataStream_t stream = nullptr;
  ASSERT_EQ(strataStreamCreate(&stream), strataSuccess);
  EXPECT_EQ(strataStreamQuery(reinterpret_cast<strataStream_t>(comm)), strataInvalidArgument);
  int n = 0;
  EXPECT_EQ(strataCommCount(reinterpret_cast<strataComm_t>(stream), &n), strataInvalidArgument);
  EXPECT_EQ(strataStreamDestroy(stream), strataSuccess);
  EXPECT_EQ(strataCommDestroy(comm), strataSuccess);
}

TEST(HandleMisuseTest, DestroyedMoeBufferAndOneWhoseCommunicatorIsGoneAreRejected) {
  strataComm_t comm = nullptr;
  ASSERT_EQ(strataCommInitAll(&comm, 1, nullptr), strataSuccess) << lastError();
  strataMoeConfig_t mc{};
  mc.maxTokensPerRank = 4;
  mc.hidden = 8;
  mc.topk = 1;
  mc.numExperts = 2;
  mc.dtype = strataFloat32;
  mc.dispatchQuant = strataMoeQuantNone;
  mc.combineQuant = strataMoeQuantNone;
  strataMoeBuffer_t buf = nullptr, orphan = nullptr;
  ASSERT_EQ(strataMoeBufferCreate(comm, &mc, &buf), strataSuccess) << strataGetLastError(comm);
  ASSERT_EQ(strataMoeBufferCreate(comm, &mc, &orphan), strataSuccess) << strataGetLastError(comm);
  ASSERT_EQ(strataMoeBufferDestroy(buf), strataSuccess);
  size_t rows = 0;
  EXPECT_EQ(strataMoeGetMaxRecvTokens(buf, &rows), strataInvalidArgument);
  EXPECT_NE(lastError().find("buffer is not a valid MoE buffer"), std::string::npos)
      << lastError();
  EXPECT_EQ(strataMoeBufferDestroy(buf), strataInvalidArgument);

  // The buffer outlives its communicator: calls that would reach the communicator are refused,
  // destroying the buffer still works.
  ASSERT_EQ(strataCommDestroy(comm), strataSuccess);
  size_t chunk = 0;
  EXPECT_EQ(strataMoeBufferGetChunkTokens(orphan, &chunk), strataInvalidArgument);
  EXPECT_NE(lastError().find("buffer's communicator was destroyed"), std::string::npos)
      << lastError();
  EXPECT_EQ(strataMoeBufferDestroy(orphan), strataSuccess) << lastError();
}

TEST(HandleMisuseTest, DeregisteredWindowIsRejected) {
  strataComm_t comm = nullptr;
  ASSERT_EQ(strataCommInitAll(&comm, 1, nullptr), strataSuccess) << lastError();
  void* mem = nullptr;
  ASSERT_EQ(strataMemAlloc(&mem, 4096), strataSuccess) << lastError();
  strataWindow_t win = nullptr;
  ASSERT_EQ(strataCommWindowRegister(comm, mem, 4096, &win, 0), strataSuccess)
      << strataGetLastError(comm);
  ASSERT_EQ(strataCommWindowDeregister(comm, win), strataSuccess) << strataGetLastError(comm);
  EXPECT_EQ(strataCommWindowDeregister(comm, win), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(comm)).find("win is not a window"), std::string::npos)
      << strataGetLastError(comm);
  EXPECT_EQ(strataCommDestroy(comm), strataSuccess);
  EXPECT_EQ(strataMemFree(mem), strataSuccess);
}

}  // namespace
}  // namespace strata::test
