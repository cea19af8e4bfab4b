// strataRedOpCreatePreMulSum with ranks as threads: AllReduce, Reduce and ReduceScatter of every
// dtype, in and out of place, 1-4 ranks, over the FIFOs (model's choice and a pinned ring),
// float32 staging, the sim transport and registered windows; both scalar residences; and every
// bad input the calls name.
#include <tuple>

#include "coll/coll_harness.h"

namespace strata::test {
namespace {

enum class Coll { kAllReduce, kReduce, kReduceScatter };

const char* collLabel(Coll c) {
  return c == Coll::kAllReduce ? "AllReduce" : c == Coll::kReduce ? "Reduce" : "ReduceScatter";
}

// Each rank's scalar: -1 or 2 (1 or 2 for unsigned types), so that with inputs in [-1, 1] every
// partial sum of up to 4 ranks is an integer within [-6, 6], exact in every type (fp8 e5m2
// included) whatever the order of the additions.
double scalarOf(strataDataType_t t, int rank) {
  if (rank % 2 == 1) return 2.0;
  return isSigned(t) ? -1.0 : 1.0;
}

// Sum over the ranks of scalar_r x input_r at element i (inputs: inputValue of Sum).
double preMulSum(strataDataType_t t, int n, size_t i, double (*scalar)(strataDataType_t, int)) {
  double acc = scalar(t, 0) * inputValue(t, strataSum, 0, i);  // -0.0 alone: -1 x 0
  for (int r = 1; r < n; ++r) acc += scalar(t, r) * inputValue(t, strataSum, r, i);
  return acc;
}

// The scalar stored as one element of t.
std::vector<char> scalarBytes(strataDataType_t t, double v) {
  std::vector<char> b(8, 0);
  storeValue(t, b.data(), 0, v);
  return b;
}

strataResult_t callWith(Coll coll, const void* send, void* recv, size_t count, strataDataType_t t,
                        strataRedOp_t op, int root, strataComm_t comm, strataStream_t stream) {
  switch (coll) {
    case Coll::kAllReduce: return strataAllReduce(send, recv, count, t, op, comm, stream);
    case Coll::kReduce: return strataReduce(send, recv, count, t, op, root, comm, stream);
    case Coll::kReduceScatter: return strataReduceScatter(send, recv, count, t, op, comm, stream);
  }
  return strataInternalError;
}

// One call of `coll` on this rank with a pre-multiplied sum of `scalar`'s values, checked
// against the exact result. `in` and `out` (may be null: plain vectors) hold the input and
// output when the caller places them (windows).
void checkOneCall(int rank, int n, strataComm_t comm, Coll coll, strataDataType_t t, size_t count,
                  bool inPlace, strataScalarResidence_t residence, char* in = nullptr,
                  char* out = nullptr) {
  const size_t es = dtypeSize(t);
  const size_t inElems = coll == Coll::kReduceScatter ? count * static_cast<size_t>(n) : count;
  const int root = n - 1;
  std::vector<char> sendVec, recvVec;
  if (!in) {
    sendVec.assign(inElems * es, 0);
    recvVec.assign(count * es, 0);
    in = sendVec.data();
    out = recvVec.data();
  }
  fillPeriodic(t, in, inElems, 0, [&](size_t i) { return inputValue(t, strataSum, rank, i); });
  std::memset(out, 0x5a, count * es);
  const size_t myBlock = coll == Coll::kReduceScatter ? static_cast<size_t>(rank) * count : 0;
  char* recv = inPlace ? in + myBlock * es : out;
  std::vector<char> scalar = scalarBytes(t, scalarOf(t, rank));
  strataRedOp_t op = strataSum;
  ASSERT_EQ(strataRedOpCreatePreMulSum(&op, scalar.data(), t, residence, comm), strataSuccess)
      << strataGetLastError(comm);
  ASSERT_GE(static_cast<int>(op), static_cast<int>(strataNumOps));
  ASSERT_EQ(callWith(coll, in, recv, count, t, op, root, comm, nullptr), strataSuccess)
      << collLabel(coll) << " " << dtypeName(t) << ": " << strataGetLastError(comm);
  ASSERT_EQ(strataRedOpDestroy(op, comm), strataSuccess) << strataGetLastError(comm);
  if (coll == Coll::kReduce && rank != root) return;
  std::vector<char> want(count * es);
  for (size_t i = 0; i < count; ++i)
    storeValue(t, want.data(), i, preMulSum(t, n, myBlock + i, scalarOf));
  const long bad = firstMismatch(recv, want.data(), count, t);
  EXPECT_EQ(bad, -1) << collLabel(coll) << " " << dtypeName(t) << (inPlace ? " in place" : "")
                     << " rank " << rank << " of " << n;
}

struct Path {
  const char* name;
  const char* transport;  // nullptr: shared memory
  const char* algo;       // nullptr: the model's choice
  const char* precision;  // nullptr: "wire"
};

const Path kPaths[] = {
    {"model", nullptr, nullptr, nullptr},
    {"ring", nullptr, "allreduce:@ring#reducescatter:@ring#reduce:@chain", nullptr},
    {"oneshot", nullptr, "allreduce:@oneshot", nullptr},
    {"float32", nullptr, nullptr, "float32"},
    {"sim", "sim", nullptr, nullptr},
};

using Param = std::tuple<Path, int>;

class PreMulSumTest : public ::testing::TestWithParam<Param> {};

// Every dtype, the three reducing calls, in and out of place, both residences.
TEST_P(PreMulSumTest, MatchesExactSum) {
  const Path& p = std::get<0>(GetParam());
  const int n = std::get<1>(GetParam());
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.timeoutMs = 60000;
  cfg.transport = p.transport;
  cfg.algo = p.algo;
  cfg.reducePrecision = p.precision;
  runRanksWith(n, cfg, [&](int rank, strataComm_t comm) {
    for (Coll coll : {Coll::kAllReduce, Coll::kReduce, Coll::kReduceScatter})
      for (strataDataType_t t : allTypes())
        for (bool inPlace : {false, true})
          checkOneCall(rank, n, comm, coll, t, 131, inPlace,
                       inPlace ? strataScalarDevice : strataScalarHostImmediate);
  });
}

INSTANTIATE_TEST_SUITE_P(Paths, PreMulSumTest,
                         ::testing::Combine(::testing::ValuesIn(kPaths),
                                            ::testing::Values(1, 2, 3, 4)),
                         [](const ::testing::TestParamInfo<Param>& i) {
                           return std::string(std::get<0>(i.param).name) + "_r" +
                                  std::to_string(std::get<1>(i.param));
                         });

// Buffers in registered windows (the direct algorithms' shape): the scaled copy is private, so
// the call runs over the FIFOs and is still right.
TEST(PreMulSum, WindowedBuffers) {
  for (int n : {2, 4}) {
    runRanks(n, "", [&](int rank, strataComm_t comm) {
      void* mem = nullptr;
      const size_t region = 1u << 20;
      ASSERT_EQ(strataMemAlloc(&mem, region), strataSuccess);
      strataWindow_t win = nullptr;
      ASSERT_EQ(strataCommWindowRegister(comm, mem, region, &win, 0), strataSuccess)
          << strataGetLastError(comm);
      char* in = static_cast<char*>(mem);
      char* out = in + region / 2;
      for (Coll coll : {Coll::kAllReduce, Coll::kReduceScatter})
        for (strataDataType_t t : {strataFloat32, strataBfloat16, strataInt32})
          for (bool inPlace : {false, true})
            checkOneCall(rank, n, comm, coll, t, 4099, inPlace, strataScalarHostImmediate, in,
                         out);
      EXPECT_EQ(strataCommWindowDeregister(comm, win), strataSuccess);
      EXPECT_EQ(strataMemFree(mem), strataSuccess);
    });
  }
}

// Large enough for chunked and pipelined algorithms.
TEST(PreMulSum, LargeCounts) {
  runRanks(3, "", [&](int rank, strataComm_t comm) {
    for (Coll coll : {Coll::kAllReduce, Coll::kReduce, Coll::kReduceScatter})
      for (strataDataType_t t : {strataFloat32, strataFloat16, strataInt64})
        checkOneCall(rank, 3, comm, coll, t, (1u << 18) + 5, coll == Coll::kAllReduce,
                     strataScalarHostImmediate);
  });
}

// Device residence reads the scalar when each call runs; host-immediate at creation.
TEST(PreMulSum, ResidenceDecidesWhenTheScalarIsRead) {
  const int n = 3;
  runRanks(n, "", [&](int rank, strataComm_t comm) {
    const size_t count = 64;
    std::vector<float> x(count, static_cast<float>(rank + 1)), y(count, 0.f);
    float scalar = 2.f;
    strataRedOp_t dev = strataSum, host = strataSum;
    ASSERT_EQ(strataRedOpCreatePreMulSum(&dev, &scalar, strataFloat32, strataScalarDevice, comm),
              strataSuccess);
    ASSERT_EQ(strataRedOpCreatePreMulSum(&host, &scalar, strataFloat32, strataScalarHostImmediate,
                                         comm),
              strataSuccess);
    EXPECT_NE(dev, host);
    const float sum = static_cast<float>(n * (n + 1) / 2);  // of x over the ranks
    ASSERT_EQ(strataAllReduce(x.data(), y.data(), count, strataFloat32, dev, comm, nullptr),
              strataSuccess);
    EXPECT_EQ(y[count - 1], 2.f * sum);
    scalar = 3.f;
    ASSERT_EQ(strataAllReduce(x.data(), y.data(), count, strataFloat32, dev, comm, nullptr),
              strataSuccess);
    EXPECT_EQ(y[0], 3.f * sum) << "a device scalar is read when the call runs";
    ASSERT_EQ(strataAllReduce(x.data(), y.data(), count, strataFloat32, host, comm, nullptr),
              strataSuccess);
    EXPECT_EQ(y[0], 2.f * sum) << "a host-immediate scalar is read when the op is created";

    // On a stream: the device scalar is read when the queued call runs, and an op may be
    // destroyed as soon as the call that uses it has returned.
    strataStream_t stream = nullptr;
    ASSERT_EQ(strataStreamCreate(&stream), strataSuccess);
    ASSERT_EQ(strataAllReduce(x.data(), y.data(), count, strataFloat32, host, comm, stream),
              strataSuccess);
    ASSERT_EQ(strataRedOpDestroy(host, comm), strataSuccess);
    ASSERT_EQ(strataStreamSynchronize(stream), strataSuccess) << strataGetLastError(comm);
    EXPECT_EQ(y[0], 2.f * sum);
    scalar = 5.f;
    ASSERT_EQ(strataAllReduce(x.data(), y.data(), count, strataFloat32, dev, comm, stream),
              strataSuccess);
    ASSERT_EQ(strataStreamSynchronize(stream), strataSuccess) << strataGetLastError(comm);
    EXPECT_EQ(y[0], 5.f * sum);
    ASSERT_EQ(strataStreamDestroy(stream), strataSuccess);
    ASSERT_EQ(strataRedOpDestroy(dev, comm), strataSuccess);
  });
}

// Two pre-multiplied sums with different scalars in one group (their staging is shared, one call
// after the other), next to a plain Sum.
TEST(PreMulSum, SeveralInOneGroup) {
  const int n = 3;
  runRanks(n, "", [&](int rank, strataComm_t comm) {
    const size_t count = 1000;
    std::vector<float> x(count, static_cast<float>(rank + 1));
    std::vector<float> y1(count), y2(count), y3(count);
    float s1 = 2.f, s2 = -3.f;
    strataRedOp_t op1 = strataSum, op2 = strataSum;
    ASSERT_EQ(strataRedOpCreatePreMulSum(&op1, &s1, strataFloat32, strataScalarHostImmediate,
                                         comm),
              strataSuccess);
    ASSERT_EQ(strataRedOpCreatePreMulSum(&op2, &s2, strataFloat32, strataScalarDevice, comm),
              strataSuccess);
    ASSERT_EQ(strataGroupStart(), strataSuccess);
    ASSERT_EQ(strataAllReduce(x.data(), y1.data(), count, strataFloat32, op1, comm, nullptr),
              strataSuccess);
    ASSERT_EQ(strataAllReduce(x.data(), y2.data(), count, strataFloat32, op2, comm, nullptr),
              strataSuccess);
    ASSERT_EQ(strataAllReduce(x.data(), y3.data(), count, strataFloat32, strataSum, comm,
                              nullptr),
              strataSuccess);
    ASSERT_EQ(strataGroupEnd(), strataSuccess) << strataGetLastError(comm);
    const float sum = static_cast<float>(n * (n + 1) / 2);
    for (size_t i : {size_t{0}, count - 1}) {
      EXPECT_EQ(y1[i], 2.f * sum);
      EXPECT_EQ(y2[i], -3.f * sum);
      EXPECT_EQ(y3[i], sum);
    }
    EXPECT_EQ(strataRedOpDestroy(op1, comm), strataSuccess);
    EXPECT_EQ(strataRedOpDestroy(op2, comm), strataSuccess);
  });
}

// Integers multiply as integers, wrapping like NCCL's.
TEST(PreMulSum, IntegersWrap) {
  runRanks(2, "", [&](int, strataComm_t comm) {
    uint8_t x = 200, y = 0, s = 3;
    strataRedOp_t op = strataSum;
    ASSERT_EQ(strataRedOpCreatePreMulSum(&op, &s, strataUint8, strataScalarHostImmediate, comm),
              strataSuccess);
    ASSERT_EQ(strataAllReduce(&x, &y, 1, strataUint8, op, comm, nullptr), strataSuccess);
    EXPECT_EQ(y, static_cast<uint8_t>(2 * static_cast<uint8_t>(600)));
    EXPECT_EQ(strataRedOpDestroy(op, comm), strataSuccess);
  });
}

std::string lastError(strataComm_t comm) { return strataGetLastError(comm); }

// Every bad input is refused with strataInvalidArgument and a message naming the value; nothing
// here communicates, so the ranks' comms are used from one thread.
TEST(PreMulSum, BadInputsNameWhatWasWrong) {
  std::vector<strataComm_t> comms(2);
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  ASSERT_EQ(strataCommInitAll(comms.data(), 2, &cfg), strataSuccess);
  strataComm_t a = comms[0], b = comms[1];
  float s = 2.f, x[4] = {}, y[4] = {};
  strataRedOp_t op = strataSum;

  EXPECT_EQ(strataRedOpCreatePreMulSum(nullptr, &s, strataFloat32, strataScalarDevice, a),
            strataInvalidArgument);
  EXPECT_TRUE(mentions(lastError(a), "op is NULL")) << lastError(a);
  EXPECT_EQ(strataRedOpCreatePreMulSum(&op, nullptr, strataFloat32, strataScalarDevice, a),
            strataInvalidArgument);
  EXPECT_TRUE(mentions(lastError(a), "scalar is NULL")) << lastError(a);
  for (int t : {-1, static_cast<int>(strataNumTypes), 1000}) {
    EXPECT_EQ(strataRedOpCreatePreMulSum(&op, &s, static_cast<strataDataType_t>(t),
                                         strataScalarDevice, a),
              strataInvalidArgument);
    EXPECT_TRUE(mentions(lastError(a), "datatype " + std::to_string(t))) << lastError(a);
  }
  for (int r : {-1, 2, 77}) {
    EXPECT_EQ(strataRedOpCreatePreMulSum(&op, &s, strataFloat32,
                                         static_cast<strataScalarResidence_t>(r), a),
              strataInvalidArgument);
    EXPECT_TRUE(mentions(lastError(a), "residence " + std::to_string(r))) << lastError(a);
  }
  EXPECT_EQ(strataRedOpCreatePreMulSum(&op, &s, strataFloat32, strataScalarDevice, nullptr),
            strataInvalidArgument);

  ASSERT_EQ(strataRedOpCreatePreMulSum(&op, &s, strataFloat32, strataScalarHostImmediate, a),
            strataSuccess);
  const std::string id = "op " + std::to_string(static_cast<int>(op));
  // Another datatype than the op's.
  EXPECT_EQ(strataAllReduce(x, y, 4, strataFloat64, op, a, nullptr), strataInvalidArgument);
  EXPECT_TRUE(mentions(lastError(a), id + " was created for float and used with double"))
      << lastError(a);
  // Another communicator.
  EXPECT_EQ(strataReduce(x, y, 4, strataFloat32, op, 0, b, nullptr), strataInvalidArgument);
  EXPECT_TRUE(mentions(lastError(b), id + " was created on another communicator")) << lastError(b);
  EXPECT_EQ(strataRedOpDestroy(op, b), strataInvalidArgument);
  EXPECT_TRUE(mentions(lastError(b), id + " was created on another communicator")) << lastError(b);
  // Calls where a reduction op makes no sense refuse it as they refuse any op they do not take.
  strataEpilogue_t epi{};
  EXPECT_EQ(strataAllReduceFused(x, y, 4, strataFloat32, op, &epi, a, nullptr),
            strataInvalidArgument);
  EXPECT_TRUE(mentions(lastError(a), id + " is a pre-multiplied sum")) << lastError(a);
  // Destroyed, twice, built-in, never created.
  ASSERT_EQ(strataRedOpDestroy(op, a), strataSuccess);
  EXPECT_EQ(strataAllReduce(x, y, 4, strataFloat32, op, a, nullptr), strataInvalidArgument);
  EXPECT_TRUE(mentions(lastError(a), id + " was destroyed")) << lastError(a);
  EXPECT_EQ(strataReduceScatter(x, y, 2, strataFloat32, op, a, nullptr), strataInvalidArgument);
  EXPECT_TRUE(mentions(lastError(a), id + " was destroyed")) << lastError(a);
  EXPECT_EQ(strataRedOpDestroy(op, a), strataInvalidArgument);
  EXPECT_TRUE(mentions(lastError(a), id + " was already destroyed")) << lastError(a);
  EXPECT_EQ(strataRedOpDestroy(strataMax, a), strataInvalidArgument);
  EXPECT_TRUE(mentions(lastError(a), "op 2 is a built-in")) << lastError(a);
  for (int never : {-3, 1 << 30}) {
    EXPECT_EQ(strataRedOpDestroy(static_cast<strataRedOp_t>(never), a), strataInvalidArgument);
    EXPECT_TRUE(mentions(lastError(a), "op " + std::to_string(never) + " was not created"))
        << lastError(a);
    EXPECT_EQ(strataAllReduce(x, y, 4, strataFloat32, static_cast<strataRedOp_t>(never), a,
                              nullptr),
              strataInvalidArgument);
    EXPECT_TRUE(mentions(lastError(a), "op " + std::to_string(never) + " is not a strataRedOp_t"))
        << lastError(a);
  }
  // Destroying a communicator destroys its ops.
  strataRedOp_t ofB = strataSum;
  ASSERT_EQ(strataRedOpCreatePreMulSum(&ofB, &s, strataFloat32, strataScalarDevice, b),
            strataSuccess);
  for (auto c : comms) EXPECT_EQ(strataCommDestroy(c), strataSuccess);
  ASSERT_EQ(strataCommInitAll(comms.data(), 2, &cfg), strataSuccess);
  EXPECT_EQ(strataAllReduce(x, y, 4, strataFloat32, ofB, comms[1], nullptr),
            strataInvalidArgument);
  EXPECT_TRUE(mentions(lastError(comms[1]), "was destroyed")) << lastError(comms[1]);
  for (auto c : comms) EXPECT_EQ(strataCommDestroy(c), strataSuccess);
}

}  // namespace
}  // namespace strata::test
