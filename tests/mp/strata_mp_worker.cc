// One rank of a multi-process test, started by mp_test.cc (or by hand under strata-run).
// Uses the public C API only. Modes:
//   all             every collective with exact result checks; prints "OK rank R", exits 0
//   allreduce-loop  prints "READY" after one AllReduce, then loops large AllReduces until one
//                   fails; prints the result's name and exits with 10 + the result code
//   windows         collectives with every buffer in a registered window (the direct
//                   algorithms between processes), checked exactly; peers' memory is mapped while
//                   registered and unmapped after deregistering, with no descriptor left open
//   windows-loop    allreduce-loop with the buffers in a registered window
//   invalid-args    bad arguments must give strataInvalidArgument and a non-empty message
//   two-comms       two communicators from the environment, alive together, each checked with
//                   an AllReduce; prints "OK rank R" (the launcher must share each id anew:
//                   PMIx under mpirun)
//   exit-before-init R CODE
//                   the rank whose launcher variable (STRATA_RANK, OMPI_COMM_WORLD_RANK) is R
//                   exits with CODE at once; the others print "PID <pid>" and try to init,
//                   printing "INIT FAILED: <message>" and exiting 1 when that fails
// A failed check prints "FAIL rank R: ..." and exits 1.
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "proc_counts.h"
#include "strata/strata.h"
#include "worker_report.h"

namespace {

using namespace strata::worker;

template <typename T>
constexpr strataDataType_t dtypeOf();
template <>
constexpr strataDataType_t dtypeOf<float>() {
  return strataFloat32;
}
template <>
constexpr strataDataType_t dtypeOf<int32_t>() {
  return strataInt32;
}
template <typename T>
const char* typeName() {
  return dtypeOf<T>() == strataFloat32 ? "float32" : "int32";
}

const char* opName(strataRedOp_t op) {
  static const char* const kNames[] = {"sum", "prod", "max", "min", "avg"};
  return op >= 0 && op < strataNumOps ? kNames[op] : "?";
}

// Small positive integers, so sums over the ranks are exact in float in any order.
int valueOf(int rank, size_t i) { return static_cast<int>((rank * 131u + i * 7u) % 23u) + 1; }
// 1 or 2, so products over up to 16 ranks stay exact.
int smallValueOf(int rank, size_t i) { return static_cast<int>((rank + i) % 2) + 1; }

// What rank contributes at i to a reduction with op; the expected result is reduceOver().
template <typename T>
T input(strataRedOp_t op, int rank, size_t i) {
  if (op == strataProd) return static_cast<T>(smallValueOf(rank, i));
  // Avg: multiples of nranks, so the one division is exact.
  if (op == strataAvg) return static_cast<T>(g_nranks * valueOf(rank, i));
  return static_cast<T>(valueOf(rank, i));
}

template <typename T>
T reduceOver(strataRedOp_t op, size_t i) {
  T acc = input<T>(op, 0, i);
  for (int r = 1; r < g_nranks; ++r) {
    T v = input<T>(op, r, i);
    switch (op) {
      case strataSum:
      case strataAvg:
        acc += v;
        break;
      case strataProd:
        acc *= v;
        break;
      case strataMax:
        acc = v > acc ? v : acc;
        break;
      case strataMin:
        acc = v < acc ? v : acc;
        break;
      default:
        break;
    }
  }
  return op == strataAvg ? static_cast<T>(acc / g_nranks) : acc;
}

template <typename T>
void expectEqual(const std::string& what, const T* got, size_t count,
                 const std::function<T(size_t)>& want) {
  for (size_t i = 0; i < count; ++i) {
    T w = want(i);
    if (got[i] != w) {
      fail("%s: element %zu of %zu is %g, expected %g", what.c_str(), i, count,
           static_cast<double>(got[i]), static_cast<double>(w));
    }
  }
}

std::string label(const char* coll, const char* type, size_t count, const std::string& more = "") {
  return std::string(coll) + " " + type + " count " + std::to_string(count) + more;
}

template <typename T>
void testAllReduce(size_t count, strataRedOp_t op) {
  constexpr strataDataType_t dt = dtypeOf<T>();
  std::vector<T> send(count), recv(count, T(-1));
  for (size_t i = 0; i < count; ++i) send[i] = input<T>(op, g_rank, i);
  auto want = [&](size_t i) { return reduceOver<T>(op, i); };
  std::string what = label("AllReduce", typeName<T>(), count, std::string(" ") + opName(op));
  ok(strataAllReduce(send.data(), recv.data(), count, dt, op, g_comm, nullptr), what);
  expectEqual<T>(what + " out-of-place", recv.data(), count, want);
  ok(strataAllReduce(send.data(), send.data(), count, dt, op, g_comm, nullptr), what);
  expectEqual<T>(what + " in-place", send.data(), count, want);
}

template <typename T>
void testBroadcast(size_t count, int root) {
  constexpr strataDataType_t dt = dtypeOf<T>();
  std::vector<T> buf(count), out(count, T(-2));
  for (size_t i = 0; i < count; ++i) buf[i] = g_rank == root ? T(valueOf(root, i)) : T(-1);
  auto want = [&](size_t i) { return T(valueOf(root, i)); };
  std::string what = label("Broadcast", typeName<T>(), count, " root " + std::to_string(root));
  ok(strataBroadcast(buf.data(), out.data(), count, dt, root, g_comm, nullptr), what);
  expectEqual<T>(what + " out-of-place", out.data(), count, want);
  ok(strataBroadcast(buf.data(), buf.data(), count, dt, root, g_comm, nullptr), what);
  expectEqual<T>(what + " in-place", buf.data(), count, want);
}

template <typename T>
void testReduce(size_t count, int root, strataRedOp_t op) {
  constexpr strataDataType_t dt = dtypeOf<T>();
  std::vector<T> send(count), recv(count, T(-1));
  for (size_t i = 0; i < count; ++i) send[i] = input<T>(op, g_rank, i);
  std::string what = label("Reduce", typeName<T>(), count,
                           std::string(" ") + opName(op) + " root " + std::to_string(root));
  ok(strataReduce(send.data(), recv.data(), count, dt, op, root, g_comm, nullptr), what);
  if (g_rank == root) {
    expectEqual<T>(what, recv.data(), count, [&](size_t i) { return reduceOver<T>(op, i); });
  }
}

template <typename T>
void testAllGather(size_t count) {
  constexpr strataDataType_t dt = dtypeOf<T>();
  size_t total = count * g_nranks;
  std::vector<T> send(count), recv(total, T(-1));
  for (size_t i = 0; i < count; ++i) send[i] = T(valueOf(g_rank, i));
  auto want = [&](size_t j) { return T(valueOf(static_cast<int>(j / count), j % count)); };
  std::string what = label("AllGather", typeName<T>(), count);
  ok(strataAllGather(send.data(), recv.data(), count, dt, g_comm, nullptr), what);
  expectEqual<T>(what + " out-of-place", recv.data(), total, want);
  std::fill(recv.begin(), recv.end(), T(-1));
  std::copy(send.begin(), send.end(), recv.begin() + g_rank * count);
  ok(strataAllGather(recv.data() + g_rank * count, recv.data(), count, dt, g_comm, nullptr), what);
  expectEqual<T>(what + " in-place", recv.data(), total, want);
}

// Rank r contributes r + base elements; blocks land in reverse rank order with gaps.
template <typename T>
void testAllGatherv(size_t base) {
  constexpr strataDataType_t dt = dtypeOf<T>();
  std::vector<size_t> counts(g_nranks), displs(g_nranks);
  size_t total = 0;
  for (int r = g_nranks - 1; r >= 0; --r) {
    counts[r] = r + base;
    displs[r] = total;
    total += counts[r] + 1;
  }
  std::vector<T> send(counts[g_rank]), recv(total, T(-7));
  for (size_t i = 0; i < send.size(); ++i) send[i] = T(valueOf(g_rank, i) + 100 * g_rank);
  std::string what = label("AllGatherv", typeName<T>(), base, " (base)");
  ok(strataAllGatherv(send.data(), send.size(), recv.data(), counts.data(), displs.data(), dt,
                      g_comm, nullptr),
     what);
  for (int r = 0; r < g_nranks; ++r) {
    expectEqual<T>(what + " block " + std::to_string(r), recv.data() + displs[r], counts[r],
                   [&](size_t i) { return T(valueOf(r, i) + 100 * r); });
    if (recv[displs[r] + counts[r]] != T(-7))
      fail("%s: gap after block %d written", what.c_str(), r);
  }
}

template <typename T>
void testReduceScatter(size_t recvcount, strataRedOp_t op) {
  constexpr strataDataType_t dt = dtypeOf<T>();
  size_t total = recvcount * g_nranks, mine = g_rank * recvcount;
  std::vector<T> send(total), recv(recvcount, T(-1));
  for (size_t i = 0; i < total; ++i) send[i] = input<T>(op, g_rank, i);
  auto want = [&](size_t i) { return reduceOver<T>(op, mine + i); };
  std::string what =
      label("ReduceScatter", typeName<T>(), recvcount, std::string(" ") + opName(op));
  ok(strataReduceScatter(send.data(), recv.data(), recvcount, dt, op, g_comm, nullptr), what);
  expectEqual<T>(what + " out-of-place", recv.data(), recvcount, want);
  ok(strataReduceScatter(send.data(), send.data() + mine, recvcount, dt, op, g_comm, nullptr),
     what);
  expectEqual<T>(what + " in-place", send.data() + mine, recvcount, want);
}

// What rank src sends to rank dst at position k; unique for 32 ranks and 2^20 elements.
template <typename T>
T a2aValue(int src, int dst, size_t k) {
  if constexpr (dtypeOf<T>() == strataFloat32) {
    return T(((src * 32 + dst) << 14) | static_cast<int>(k % 16384));  // exact below 2^24
  } else {
    return T(((src * 32 + dst) << 20) | static_cast<int>(k));
  }
}

template <typename T>
void testAllToAll(size_t count) {
  constexpr strataDataType_t dt = dtypeOf<T>();
  size_t total = count * g_nranks;
  std::vector<T> send(total), recv(total, T(-1));
  for (int p = 0; p < g_nranks; ++p) {
    for (size_t k = 0; k < count; ++k) send[p * count + k] = a2aValue<T>(g_rank, p, k);
  }
  auto want = [&](size_t j) { return a2aValue<T>(static_cast<int>(j / count), g_rank, j % count); };
  std::string what = label("AllToAll", typeName<T>(), count);
  ok(strataAllToAll(send.data(), recv.data(), count, dt, g_comm, nullptr), what);
  expectEqual<T>(what, recv.data(), total, want);
}

size_t a2avCount(int src, int dst, size_t scale) { return ((src * 3 + dst * 5) % 4) * scale; }

template <typename T>
void testAllToAllv(size_t scale) {
  constexpr strataDataType_t dt = dtypeOf<T>();
  std::vector<size_t> sc(g_nranks), sd(g_nranks), rc(g_nranks), rd(g_nranks);
  size_t stotal = 0, rtotal = 0;
  for (int p = 0; p < g_nranks; ++p) {
    sc[p] = a2avCount(g_rank, p, scale);
    sd[p] = stotal;
    stotal += sc[p];
    rc[p] = a2avCount(p, g_rank, scale);
    rd[p] = rtotal;
    rtotal += rc[p] + 2;
  }
  std::vector<T> send(stotal), recv(rtotal, T(-1));
  for (int p = 0; p < g_nranks; ++p) {
    for (size_t k = 0; k < sc[p]; ++k) send[sd[p] + k] = a2aValue<T>(g_rank, p, k);
  }
  std::string what = label("AllToAllv", typeName<T>(), scale, " (scale)");
  ok(strataAllToAllv(send.data(), sc.data(), sd.data(), recv.data(), rc.data(), rd.data(), dt,
                     g_comm, nullptr),
     what);
  for (int p = 0; p < g_nranks; ++p) {
    expectEqual<T>(what + " from rank " + std::to_string(p), recv.data() + rd[p], rc[p],
                   [&](size_t k) { return a2aValue<T>(p, g_rank, k); });
    if (recv[rd[p] + rc[p]] != T(-1) || recv[rd[p] + rc[p] + 1] != T(-1)) {
      fail("%s: gap after the block from rank %d written", what.c_str(), p);
    }
  }
}

// A ring and an all-pairs exchange, each fused in one group.
template <typename T>
void testSendRecv(size_t count) {
  constexpr strataDataType_t dt = dtypeOf<T>();
  int next = (g_rank + 1) % g_nranks, prev = (g_rank + g_nranks - 1) % g_nranks;
  std::vector<T> send(count), recv(count, T(-1));
  for (size_t i = 0; i < count; ++i) send[i] = T(valueOf(g_rank, i));
  std::string what = label("Send/Recv ring", typeName<T>(), count);
  ok(strataGroupStart(), what + " GroupStart");
  ok(strataSend(send.data(), count, dt, next, g_comm, nullptr), what + " Send");
  ok(strataRecv(recv.data(), count, dt, prev, g_comm, nullptr), what + " Recv");
  ok(strataGroupEnd(), what + " GroupEnd");
  expectEqual<T>(what, recv.data(), count, [&](size_t i) { return T(valueOf(prev, i)); });

  std::vector<std::vector<T>> out(g_nranks), in(g_nranks);
  what = label("Send/Recv all pairs", typeName<T>(), count);
  ok(strataGroupStart(), what + " GroupStart");
  for (int p = 0; p < g_nranks; ++p) {
    if (p == g_rank) continue;
    out[p].resize(count);
    in[p].assign(count, T(-1));
    for (size_t k = 0; k < count; ++k) out[p][k] = a2aValue<T>(g_rank, p, k);
    ok(strataSend(out[p].data(), count, dt, p, g_comm, nullptr), what + " Send");
    ok(strataRecv(in[p].data(), count, dt, p, g_comm, nullptr), what + " Recv");
  }
  ok(strataGroupEnd(), what + " GroupEnd");
  for (int p = 0; p < g_nranks; ++p) {
    if (p == g_rank) continue;
    expectEqual<T>(what + " from rank " + std::to_string(p), in[p].data(), count,
                   [&](size_t k) { return a2aValue<T>(p, g_rank, k); });
  }
}

template <typename T>
void testType() {
  const strataRedOp_t ops[] = {strataSum, strataProd, strataMax, strataMin, strataAvg};
  for (size_t count : {size_t{1}, size_t{7}, size_t{1003}}) {
    for (strataRedOp_t op : ops) {
      if (op == strataAvg && dtypeOf<T>() != strataFloat32) continue;
      testAllReduce<T>(count, op);
    }
    for (int root = 0; root < g_nranks; ++root) {
      testBroadcast<T>(count, root);
      testReduce<T>(count, root, strataSum);
    }
    testReduce<T>(count, g_nranks - 1, strataMax);
    testAllGather<T>(count);
    testReduceScatter<T>(count, strataSum);
    testReduceScatter<T>(count, strataMin);
    testAllToAll<T>(count);
    testSendRecv<T>(count);
  }
  // Large enough to cross the transports' chunking, and not divisible by the rank count.
  size_t big = (size_t{1} << 18) + 3;
  testAllReduce<T>(big, strataSum);
  testAllReduce<T>(big, strataMax);
  testBroadcast<T>(big, g_nranks - 1);
  testAllGather<T>(big);
  testReduceScatter<T>(big, strataSum);
  testAllToAll<T>(big / 4);
  testSendRecv<T>(big);
  testAllGatherv<T>(0);
  testAllGatherv<T>(1000);
  testAllToAllv<T>(1);
  testAllToAllv<T>(3001);
}

void testStream() {
  strataStream_t stream = nullptr;
  ok(strataStreamCreate(&stream), "StreamCreate");
  const size_t count = 100003;
  std::vector<float> a(count);
  std::vector<int32_t> b(count), bout(count, -1);
  for (size_t i = 0; i < count; ++i) {
    a[i] = static_cast<float>(valueOf(g_rank, i));
    b[i] = valueOf(g_rank, i);
  }
  ok(strataAllReduce(a.data(), a.data(), count, strataFloat32, strataSum, g_comm, stream),
     "AllReduce on a stream");
  ok(strataAllReduce(b.data(), bout.data(), count, strataInt32, strataMax, g_comm, stream),
     "second AllReduce on a stream");
  ok(strataBarrier(g_comm, stream), "Barrier on a stream");
  ok(strataStreamSynchronize(stream), "StreamSynchronize");
  ok(strataStreamQuery(stream), "StreamQuery after StreamSynchronize");
  expectEqual<float>("AllReduce float32 sum on a stream", a.data(), count,
                     [](size_t i) { return reduceOver<float>(strataSum, i); });
  expectEqual<int32_t>("AllReduce int32 max on a stream", bout.data(), count,
                       [](size_t i) { return reduceOver<int32_t>(strataMax, i); });
  ok(strataStreamDestroy(stream), "StreamDestroy");
}

int runAll() {
  initComm();
  float one = 1.0f;
  ok(strataAllReduce(&one, &one, 0, strataFloat32, strataSum, g_comm, nullptr),
     "AllReduce count 0");
  testType<float>();
  testType<int32_t>();
  ok(strataBarrier(g_comm, nullptr), "Barrier");
  testStream();
  finishComm();
  std::printf("OK rank %d\n", g_rank);
  return 0;
}

// Loops until a peer's death surfaces as an error; the harness kills a rank after "READY".
int runAllReduceLoop() {
  initComm();
  const size_t count = (size_t{8} << 20) / sizeof(float);
  std::vector<float> send(count, 1.0f), recv(count);
  ok(strataAllReduce(send.data(), recv.data(), count, strataFloat32, strataSum, g_comm, nullptr),
     "first AllReduce");
  std::printf("READY rank %d\n", g_rank);
  std::fflush(stdout);
  return repeatUntilFailure("AllReduce", 1000000, [&] {
    return strataAllReduce(send.data(), recv.data(), count, strataFloat32, strataSum, g_comm,
                           nullptr);
  });
}

int runWindows() {
  initComm();
  const size_t count = 100000;
  const size_t n = static_cast<size_t>(g_nranks);
  const size_t bytes = (2 + n) * count * sizeof(float);
  const size_t fdsBefore = openFds().size();
  void* mem = nullptr;
  ok(strataMemAlloc(&mem, bytes), "MemAlloc");
  const int ownMaps = countSharedMappings();
  strataWindow_t win = nullptr;
  ok(strataCommWindowRegister(g_comm, mem, bytes, &win, 0), "CommWindowRegister");
  if (countSharedMappings() != ownMaps + g_nranks - 1)
    fail("%d strata-mem mappings after registering, expected %d", countSharedMappings(),
         ownMaps + g_nranks - 1);
  float* in = static_cast<float*>(mem);
  float* out = in + count;
  for (int iter = 0; iter < 3; ++iter) {
    for (size_t i = 0; i < count; ++i) in[i] = static_cast<float>((g_rank + 1) * (i % 7));
    ok(strataAllReduce(in, out, count, strataFloat32, strataSum, g_comm, nullptr), "AllReduce");
    const float ranks = static_cast<float>(n * (n + 1) / 2);
    for (size_t i = 0; i < count; ++i)
      if (out[i] != ranks * static_cast<float>(i % 7)) fail("AllReduce element %zu: %g", i, out[i]);
    ok(strataAllReduce(in, in, 8, strataFloat32, strataSum, g_comm, nullptr), "AllReduce 8");
    for (size_t i = 0; i < 8; ++i)
      if (in[i] != ranks * static_cast<float>(i % 7)) fail("in-place AllReduce element %zu", i);
    for (size_t i = 0; i < count; ++i) in[i] = static_cast<float>(g_rank * 1000 + i % 100);
    ok(strataAllGather(in, out, count, strataFloat32, g_comm, nullptr), "AllGather");
    for (size_t r = 0; r < n; ++r)
      for (size_t i = 0; i < count; ++i)
        if (out[r * count + i] != static_cast<float>(r * 1000 + i % 100))
          fail("AllGather block %zu element %zu: %g", r, i, out[r * count + i]);
    const size_t per = count / n;
    ok(strataAllToAll(in, out, per, strataFloat32, g_comm, nullptr), "AllToAll");
    for (size_t r = 0; r < n; ++r)
      for (size_t i = 0; i < per; ++i)
        if (out[r * per + i] != static_cast<float>(r * 1000 + (g_rank * per + i) % 100))
          fail("AllToAll block %zu element %zu", r, i);
    ok(strataReduceScatter(in, out, per, strataFloat32, strataSum, g_comm, nullptr),
       "ReduceScatter");
    ok(strataBroadcast(in, out, count, strataFloat32, 0, g_comm, nullptr), "Broadcast");
    for (size_t i = 0; i < count; ++i)
      if (out[i] != static_cast<float>(i % 100)) fail("Broadcast element %zu", i);
  }
  strataStats_t st;
  ok(strataCommGetStats(g_comm, &st), "CommGetStats");
  if (st.total.bytesSent[0] != 0)
    fail("%llu bytes went through the transport: the direct algorithms did not run",
         static_cast<unsigned long long>(st.total.bytesSent[0]));
  ok(strataCommWindowDeregister(g_comm, win), "CommWindowDeregister");
  if (countSharedMappings() != ownMaps)
    fail("%d strata-mem mappings after deregistering, expected %d", countSharedMappings(), ownMaps);
  ok(strataMemFree(mem), "MemFree");
  if (countSharedMappings() != 0) fail("strata-mem still mapped after strataMemFree");
  if (openFds().size() != fdsBefore)
    fail("%zu descriptors open, %zu before", openFds().size(), fdsBefore);
  finishComm();
  std::printf("OK rank %d\n", g_rank);
  return 0;
}

int runWindowsLoop() {
  initComm();
  const size_t count = (size_t{4} << 20) / sizeof(float);
  void* mem = nullptr;
  ok(strataMemAlloc(&mem, 2 * count * sizeof(float)), "MemAlloc");
  strataWindow_t win = nullptr;
  ok(strataCommWindowRegister(g_comm, mem, 2 * count * sizeof(float), &win, 0),
     "CommWindowRegister");
  float* send = static_cast<float*>(mem);
  float* recv = send + count;
  std::fill(send, send + count, 1.0f);
  ok(strataAllReduce(send, recv, count, strataFloat32, strataSum, g_comm, nullptr),
     "first AllReduce");
  std::printf("READY rank %d\n", g_rank);
  std::fflush(stdout);
  return repeatUntilFailure("AllReduce", 1000000, [&] {
    return strataAllReduce(send, recv, count, strataFloat32, strataSum, g_comm, nullptr);
  });
}

int runInvalidArgs() {
  initComm();
  std::vector<float> buf(16, 1.0f), out(16);
  int bad = 0;
  auto expectInvalid = [&](strataResult_t r, strataComm_t comm, const char* what) {
    const char* msg = strataGetLastError(comm);
    std::printf("rank %d: %s -> %s: %s\n", g_rank, what, resultName(r), msg ? msg : "(null)");
    if (r != strataInvalidArgument) {
      std::printf("FAIL rank %d: %s returned %s, expected strataInvalidArgument\n", g_rank, what,
                  resultName(r));
      bad = 1;
    } else if (msg == nullptr || *msg == '\0') {
      std::printf("FAIL rank %d: %s left an empty strataGetLastError message\n", g_rank, what);
      bad = 1;
    }
  };
  float* d = buf.data();
  float* o = out.data();
  expectInvalid(strataAllReduce(nullptr, o, 16, strataFloat32, strataSum, g_comm, nullptr), g_comm,
                "AllReduce with a NULL sendbuff");
  expectInvalid(strataAllReduce(d, nullptr, 16, strataFloat32, strataSum, g_comm, nullptr), g_comm,
                "AllReduce with a NULL recvbuff");
  expectInvalid(
      strataAllReduce(d, o, 16, static_cast<strataDataType_t>(99), strataSum, g_comm, nullptr),
      g_comm, "AllReduce with datatype 99");
  expectInvalid(strataAllReduce(d, o, 16, strataNumTypes, strataSum, g_comm, nullptr), g_comm,
                "AllReduce with datatype strataNumTypes");
  expectInvalid(
      strataAllReduce(d, o, 16, strataFloat32, static_cast<strataRedOp_t>(42), g_comm, nullptr),
      g_comm, "AllReduce with op 42");
  expectInvalid(strataBroadcast(d, o, 16, strataFloat32, g_nranks, g_comm, nullptr), g_comm,
                "Broadcast with root == nranks");
  expectInvalid(strataBroadcast(d, o, 16, strataFloat32, -1, g_comm, nullptr), g_comm,
                "Broadcast with root -1");
  expectInvalid(strataReduce(d, o, 16, strataFloat32, strataSum, g_nranks + 3, g_comm, nullptr),
                g_comm, "Reduce with root nranks+3");
  expectInvalid(strataSend(d, 16, strataFloat32, g_nranks, g_comm, nullptr), g_comm,
                "Send to peer == nranks");
  expectInvalid(strataRecv(o, 16, strataFloat32, -1, g_comm, nullptr), g_comm, "Recv from peer -1");
  expectInvalid(strataAllReduce(d, o, 16, strataFloat32, strataSum, nullptr, nullptr), nullptr,
                "AllReduce on a NULL communicator");
  // The rejected calls must not have disturbed the communicator.
  ok(strataAllReduce(d, o, 16, strataFloat32, strataSum, g_comm, nullptr),
     "AllReduce after the rejected calls");
  expectEqual<float>("AllReduce after the rejected calls", o, 16,
                     [](size_t) { return static_cast<float>(g_nranks); });
  finishComm();
  if (bad) return 1;
  std::printf("OK rank %d\n", g_rank);
  return 0;
}

int runTwoComms() {
  initComm();
  strataComm_t second = nullptr;
  ok(strataCommInitFromEnv(&second, nullptr), "second CommInitFromEnv");
  int rank = -1, nranks = 0;
  ok(strataCommUserRank(second, &rank), "CommUserRank of the second communicator");
  ok(strataCommCount(second, &nranks), "CommCount of the second communicator");
  if (rank != g_rank || nranks != g_nranks)
    fail("second communicator: rank %d of %d, the first says %d of %d", rank, nranks, g_rank,
         g_nranks);
  float x[2] = {1.0f, static_cast<float>(g_rank)};
  ok(strataAllReduce(x, x, 2, strataFloat32, strataSum, second, nullptr),
     "AllReduce on the second communicator");
  ok(strataAllReduce(x, x, 2, strataFloat32, strataSum, g_comm, nullptr),
     "AllReduce on the first communicator");
  const float want0 = static_cast<float>(g_nranks * g_nranks);
  const float want1 = static_cast<float>(g_nranks * g_nranks * (g_nranks - 1) / 2);
  if (x[0] != want0 || x[1] != want1)
    fail("two AllReduces gave %g %g, expected %g %g", x[0], x[1], want0, want1);
  ok(strataCommFinalize(second), "CommFinalize of the second communicator");
  ok(strataCommDestroy(second), "CommDestroy of the second communicator");
  finishComm();
  std::printf("OK rank %d\n", g_rank);
  return 0;
}

int runExitBeforeInit(int victim, int code) {
  const char* rankText = std::getenv("STRATA_RANK");
  if (!rankText) rankText = std::getenv("OMPI_COMM_WORLD_RANK");
  if (rankText && std::atoi(rankText) == victim) return code;
  std::printf("PID %d\n", static_cast<int>(getpid()));
  strataResult_t r = strataCommInitFromEnv(&g_comm, nullptr);
  if (r != strataSuccess) {
    std::printf("INIT FAILED: %s: %s\n", resultName(r), strataGetLastError(nullptr));
    return 1;
  }
  finishComm();
  std::printf("OK\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "all") return runAll();
  if (mode == "allreduce-loop") return runAllReduceLoop();
  if (mode == "invalid-args") return runInvalidArgs();
  if (mode == "windows") return runWindows();
  if (mode == "windows-loop") return runWindowsLoop();
  if (mode == "two-comms") return runTwoComms();
  if (mode == "exit-before-init" && argc == 4)
    return runExitBeforeInit(std::atoi(argv[2]), std::atoi(argv[3]));
  std::fprintf(stderr,
               "usage: %s all|allreduce-loop|invalid-args|two-comms|exit-before-init R CODE\n",
               argv[0]);
  return 2;
}
