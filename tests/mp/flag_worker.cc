// One rank of the flag-path multi-process test (flag_mp_test.cc), through the public C API only:
// small calls with every buffer in a registered window, which run the flag path (flagPost and
// flagWait over the transport's shared control segment, docs/windows.md) between processes.
//   (no argument)  AllReduce (sum) and ReduceScatter (sum) in every dtype, AllGather and
//                  Broadcast (from every root) in every dtype, each at several counts whose slot
//                  data is at most 256 bytes, in place and out of place; every result checked
//                  exactly, every call must have run `flag`, and no byte may have gone through
//                  the FIFOs. Prints "OK rank R", exits 0.
//   kill-loop      prints "READY" after one flag AllReduce, then loops them until a peer's death
//                  surfaces; prints the error and exits 10 + the result code.
// A failed check prints "FAIL rank R: ..." and exits 1.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "strata/strata.h"
#include "worker_report.h"

namespace {

using namespace strata::worker;

struct TypeInfo {
  strataDataType_t dtype;
  const char* name;
  size_t size;
};

constexpr TypeInfo kTypes[] = {
    {strataInt8, "int8", 1},
    {strataUint8, "uint8", 1},
    {strataInt32, "int32", 4},
    {strataUint32, "uint32", 4},
    {strataInt64, "int64", 8},
    {strataUint64, "uint64", 8},
    {strataFloat16, "float16", 2},
    {strataFloat32, "float32", 4},
    {strataFloat64, "float64", 8},
    {strataBfloat16, "bfloat16", 2},
    {strataFloat8e4m3, "float8e4m3", 1},
    {strataFloat8e5m2, "float8e5m2", 1},
};

// The bits of a small positive integer v (v < 2^(mbits+1)) in a binary float format.
uint64_t floatBits(unsigned v, int mbits, int bias) {
  int e = 0;
  while ((v >> (e + 1)) != 0) ++e;
  const uint64_t mantissa = ((uint64_t{v} << mbits) >> e) - (uint64_t{1} << mbits);
  return (static_cast<uint64_t>(e + bias) << mbits) | mantissa;
}

// Stores the small integer v (1..16) as one element of `dtype` at p.
void store(strataDataType_t dtype, unsigned v, unsigned char* p) {
  switch (dtype) {
    case strataInt8:
    case strataUint8:
    case strataFloat8e4m3:
    case strataFloat8e5m2: {
      uint8_t b = static_cast<uint8_t>(v);
      if (dtype == strataFloat8e4m3) b = static_cast<uint8_t>(floatBits(v, 3, 7));
      if (dtype == strataFloat8e5m2) b = static_cast<uint8_t>(floatBits(v, 2, 15));
      *p = b;
      return;
    }
    case strataFloat16:
    case strataBfloat16: {
      const uint16_t h = static_cast<uint16_t>(dtype == strataFloat16 ? floatBits(v, 10, 15)
                                                                      : floatBits(v, 7, 127));
      std::memcpy(p, &h, 2);
      return;
    }
    case strataInt32:
    case strataUint32: {
      const uint32_t w = v;
      std::memcpy(p, &w, 4);
      return;
    }
    case strataFloat32: {
      const float f = static_cast<float>(v);
      std::memcpy(p, &f, 4);
      return;
    }
    case strataFloat64: {
      const double d = v;
      std::memcpy(p, &d, 8);
      return;
    }
    default: {
      const uint64_t w = v;
      std::memcpy(p, &w, 8);
      return;
    }
  }
}

// 1 or 2, so sums over up to 4 ranks (at most 8) are exact in every type, float8 e5m2 included.
unsigned valueOf(int rank, size_t i) { return static_cast<unsigned>((rank + i * 3) % 2) + 1; }

unsigned sumOf(size_t i) {
  unsigned s = 0;
  for (int r = 0; r < g_nranks; ++r) s += valueOf(r, i);
  return s;
}

// Element i of `buf` must hold `v`.
void expectElement(const TypeInfo& t, const unsigned char* buf, size_t i, unsigned v,
                   const std::string& call) {
  unsigned char want[8];
  store(t.dtype, v, want);
  if (std::memcmp(buf + i * t.size, want, t.size) != 0)
    fail("%s: element %zu is not %u", call.c_str(), i, v);
}

// The last call ran the flag path.
void expectFlag(const std::string& call) {
  strataStats_t st;
  ok(strataCommGetStats(g_comm, &st), "CommGetStats");
  if (std::strcmp(st.lastAlgo, "flag") != 0)
    fail("%s ran '%s' (%s), not the flag path", call.c_str(), st.lastAlgo, st.lastAlgoSource);
}

std::string callName(const char* coll, const TypeInfo& t, size_t count, bool inPlace) {
  return std::string(coll) + " " + t.name + " count " + std::to_string(count) +
         (inPlace ? " in place" : " out of place");
}

// Element counts whose slot data (`perElement` bytes each) is 1 element, a few, and 256 bytes.
std::vector<size_t> countsFor(size_t perElement) {
  std::vector<size_t> out = {1};
  if (3 * perElement <= 256) out.push_back(3);
  if (256 / perElement > 3) out.push_back(256 / perElement);
  return out;
}

void allReduce(unsigned char* mem, const TypeInfo& t, bool inPlace) {
  for (size_t count : countsFor(t.size)) {
    const std::string call = callName("AllReduce", t, count, inPlace);
    unsigned char* in = mem;
    unsigned char* out = inPlace ? mem : mem + 4096;
    for (size_t i = 0; i < count; ++i) store(t.dtype, valueOf(g_rank, i), in + i * t.size);
    ok(strataAllReduce(in, out, count, t.dtype, strataSum, g_comm, nullptr), call);
    expectFlag(call);
    for (size_t i = 0; i < count; ++i) expectElement(t, out, i, sumOf(i), call);
  }
}

void reduceScatter(unsigned char* mem, const TypeInfo& t, bool inPlace) {
  const size_t n = static_cast<size_t>(g_nranks);
  for (size_t count : countsFor(t.size * n)) {
    const std::string call = callName("ReduceScatter", t, count, inPlace);
    unsigned char* in = mem;
    unsigned char* out = inPlace ? mem + static_cast<size_t>(g_rank) * count * t.size : mem + 4096;
    for (size_t i = 0; i < n * count; ++i) store(t.dtype, valueOf(g_rank, i), in + i * t.size);
    ok(strataReduceScatter(in, out, count, t.dtype, strataSum, g_comm, nullptr), call);
    expectFlag(call);
    for (size_t i = 0; i < count; ++i)
      expectElement(t, out, i, sumOf(static_cast<size_t>(g_rank) * count + i), call);
  }
}

void allGather(unsigned char* mem, const TypeInfo& t, bool inPlace) {
  const size_t n = static_cast<size_t>(g_nranks);
  for (size_t count : countsFor(t.size)) {
    const std::string call = callName("AllGather", t, count, inPlace);
    unsigned char* out = mem + 4096;
    unsigned char* in = inPlace ? out + static_cast<size_t>(g_rank) * count * t.size : mem;
    for (size_t i = 0; i < n * count; ++i) store(t.dtype, 16, out + i * t.size);  // stale
    for (size_t i = 0; i < count; ++i) store(t.dtype, valueOf(g_rank, i), in + i * t.size);
    ok(strataAllGather(in, out, count, t.dtype, g_comm, nullptr), call);
    expectFlag(call);
    for (int r = 0; r < g_nranks; ++r)
      for (size_t i = 0; i < count; ++i)
        expectElement(t, out, static_cast<size_t>(r) * count + i, valueOf(r, i), call);
  }
}

void broadcast(unsigned char* mem, const TypeInfo& t, bool inPlace) {
  for (size_t count : countsFor(t.size)) {
    for (int root = 0; root < g_nranks; ++root) {
      const std::string call =
          callName("Broadcast", t, count, inPlace) + " from root " + std::to_string(root);
      unsigned char* out = mem + 4096;
      unsigned char* in = inPlace ? out : mem;
      for (size_t i = 0; i < count; ++i) {
        store(t.dtype, 16, out + i * t.size);  // stale
        if (g_rank == root) store(t.dtype, valueOf(root, i), in + i * t.size);
      }
      ok(strataBroadcast(in, out, count, t.dtype, root, g_comm, nullptr), call);
      expectFlag(call);
      for (size_t i = 0; i < count; ++i) expectElement(t, out, i, valueOf(root, i), call);
    }
  }
}

constexpr size_t kWindowBytes = 8192;

int runAll() {
  initComm();
  void* mem = nullptr;
  ok(strataMemAlloc(&mem, kWindowBytes), "MemAlloc");
  strataWindow_t win = nullptr;
  ok(strataCommWindowRegister(g_comm, mem, kWindowBytes, &win, 0), "CommWindowRegister");
  auto* bytes = static_cast<unsigned char*>(mem);
  for (const TypeInfo& t : kTypes) {
    for (bool inPlace : {false, true}) {
      allReduce(bytes, t, inPlace);
      reduceScatter(bytes, t, inPlace);
      allGather(bytes, t, inPlace);
      broadcast(bytes, t, inPlace);
    }
  }
  strataStats_t st;
  ok(strataCommGetStats(g_comm, &st), "CommGetStats");
  if (st.total.bytesSent[0] != 0)
    fail("%llu bytes went through the FIFOs",
         static_cast<unsigned long long>(st.total.bytesSent[0]));
  ok(strataCommWindowDeregister(g_comm, win), "CommWindowDeregister");
  ok(strataMemFree(mem), "MemFree");
  finishComm();
  std::printf("OK rank %d\n", g_rank);
  return 0;
}

// Loops flag AllReduces until a peer's death surfaces; the harness kills a rank after "READY".
int runKillLoop() {
  initComm();
  void* mem = nullptr;
  ok(strataMemAlloc(&mem, kWindowBytes), "MemAlloc");
  strataWindow_t win = nullptr;
  ok(strataCommWindowRegister(g_comm, mem, kWindowBytes, &win, 0), "CommWindowRegister");
  float* in = static_cast<float*>(mem);
  float* out = in + 64;
  for (int i = 0; i < 8; ++i) in[i] = 1.0f;
  ok(strataAllReduce(in, out, 8, strataFloat32, strataSum, g_comm, nullptr), "first AllReduce");
  expectFlag("first AllReduce");
  std::printf("READY rank %d\n", g_rank);
  std::fflush(stdout);
  return repeatUntilFailure("AllReduce", 100000000, [&] {
    return strataAllReduce(in, out, 8, strataFloat32, strataSum, g_comm, nullptr);
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode.empty()) return runAll();
  if (mode == "kill-loop") return runKillLoop();
  std::fprintf(stderr, "usage: %s [kill-loop]\n", argv[0]);
  return 2;
}
