// moe_dispatch_perf: MoE dispatch + combine (strataMoeDispatch / strataMoeCombine) timed per
// iteration on the slowest rank, with seeded top-k routing.
//
//   moe_dispatch_perf [-t N] [--tokens 128] [--hidden 7168] [--topk 8] [--experts 256]
//                     [--dtype bfloat16] [--dist uniform|zipf:S] [--quant none|int8]
//                     [--placement auto|FILE] [--compute-us-per-token X] [-n 20] [-w 5]
//                     [--chunk TOKENS] [--pipeline off|on|both] [--direct on|off|both]
//                     [--sim PRESET [--timing-only]] [--baseline mpi]
//
// Launch: threads of one process (-t N), strata-run, mpirun, or --sim PRESET (the preset's ranks
// as threads on the sim transport; times are simulated; --timing-only evaluates the plans with
// no payload, for cm384's 384 ranks). --baseline mpi (under mpirun) runs the same exchange as a
// runtime does without a dedicated library (MPI_Alltoall of the counts, MPI_Alltoallv of the
// payload, MPI_Alltoallv back and a weighted sum), interleaved with Strata's in the same run.
// --direct: on one host over shared memory, the buffer writes straight into the peers' receive
// slots (on, the default), through the FIFOs (off: STRATA_MOE_DIRECT=0), or both: a second buffer
// with STRATA_MOE_DIRECT=0 runs the unpipelined dispatch + combine interleaved with the first
// (alternating order) and `direct_over_fifo` compares their end-to-end medians (one rank per
// process).
// The last line is `end_to_end_us X`: the median over iterations, on the slowest rank.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/launch.h"
#include "common/sim_launch.h"
#include "common/token_routing.h"
#include "strata/strata.h"
#ifdef STRATA_PERF_WITH_MPI
#include <mpi.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int threads = 1;
  size_t tokens = 128;
  size_t hidden = 7168;
  int topk = 8;
  int experts = 256;
  std::string dtype = "bfloat16";
  std::string dist = "uniform";
  std::string quant = "none";
  size_t chunk = 0;
  std::string pipeline = "off";
  std::string placement;
  double computeUsPerToken = 0;
  int iters = 20;
  int warmup = 5;
  std::string sim;
  bool timingOnly = false;
  std::string baseline;
  std::string direct = "on";
  std::string route = "auto";
};

strataDataType_t typeOf(const std::string& s) {
  if (s == "bfloat16" || s == "bf16") return strataBfloat16;
  if (s == "float16" || s == "half" || s == "fp16") return strataFloat16;
  if (s == "float32" || s == "float" || s == "fp32") return strataFloat32;
  throw std::runtime_error("--dtype " + s + ": bfloat16, float16 or float32");
}

size_t sizeOf(strataDataType_t t) { return t == strataFloat32 ? 4 : 2; }

// Rank r's routing: top-k distinct experts per token, expert e drawn with weight 1/(e+1)^S.
std::vector<int32_t> routingOf(const Options& o, double zipf, int rank) {
  std::mt19937_64 rng(0x5eed0000ull + static_cast<uint64_t>(rank));
  std::vector<double> w(static_cast<size_t>(o.experts));
  for (int e = 0; e < o.experts; ++e) w[static_cast<size_t>(e)] = 1.0 / std::pow(e + 1.0, zipf);
  std::discrete_distribution<int> pick(w.begin(), w.end());
  std::vector<int32_t> ids(o.tokens * static_cast<size_t>(o.topk));
  for (size_t t = 0; t < o.tokens; ++t) {
    int32_t* row = ids.data() + t * static_cast<size_t>(o.topk);
    for (int j = 0; j < o.topk;) {
      const int e = pick(rng);
      if (std::find(row, row + j, e) == row + j) row[j++] = e;
    }
  }
  return ids;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The placement: auto (EPLB from every rank's routing, one spare slot per rank) or a JSON file
// {"slot_expert": [...]}; empty when none.
std::vector<int32_t> placementOf(const Options& o, double zipf, int nranks) {
  if (o.placement.empty()) return {};
  if (o.placement != "auto") {
    std::ifstream f(o.placement);
    if (!f) throw std::runtime_error("--placement " + o.placement + ": cannot open");
    const nlohmann::json j = nlohmann::json::parse(f);
    return j.at("slot_expert").get<std::vector<int32_t>>();
  }
  std::vector<double> load(static_cast<size_t>(o.experts));
  for (int r = 0; r < nranks; ++r)
    for (int32_t e : routingOf(o, zipf, r)) load[static_cast<size_t>(e)] += 1;
  const int perRank = o.experts / nranks + 1;
  std::vector<int32_t> slots(static_cast<size_t>(perRank * nranks));
  double before = 0, after = 0;
  if (strataMoePlacementCompute(load.data(), o.experts, nranks, perRank, slots.data(), &before,
                                &after) != strataSuccess)
    throw std::runtime_error(std::string("strataMoePlacementCompute: ") +
                             strataGetLastError(nullptr));
  std::printf("# placement auto: %d slots per rank, expected max/mean rank load %.3f -> %.3f\n",
              perRank, before, after);
  return slots;
}

void check(strataResult_t r, const char* what, strataComm_t comm) {
  if (r != strataSuccess)
    throw std::runtime_error(std::string(what) + ": " + strataGetLastError(comm));
}

struct Times {
  std::vector<double> dispatch, combine, total, mpi;  // per iteration, this rank
  std::vector<double> pipelined;  // --pipeline both: the pipelined run of each iteration
  std::vector<double> fifo;       // --direct both: the FIFO buffer's unpipelined run
  // The last unpipelined dispatch + combine: bytes this rank sent at each topology level.
  uint64_t levelBytes[STRATA_MAX_LEVELS] = {};
};

// bfloat16 (as its bits) or float32 rows to float32 and back, in loops the compiler vectorises.
void widen(strataDataType_t dt, const uint8_t* src, float* dst, size_t n) {
  if (dt == strataFloat32) {
    std::memcpy(dst, src, n * 4);
    return;
  }
  std::vector<uint16_t> b(n);
  std::memcpy(b.data(), src, n * 2);
  auto* u = reinterpret_cast<uint32_t*>(dst);
  for (size_t i = 0; i < n; ++i) u[i] = static_cast<uint32_t>(b[i]) << 16;
}

void narrow(strataDataType_t dt, const float* src, uint8_t* dst, size_t n) {
  if (dt == strataFloat32) {
    std::memcpy(dst, src, n * 4);
    return;
  }
  std::vector<uint16_t> b(n);
  const auto* u = reinterpret_cast<const uint32_t*>(src);
  for (size_t i = 0; i < n; ++i)
    b[i] = static_cast<uint16_t>((u[i] + 0x7fff + ((u[i] >> 16) & 1)) >> 16);
  std::memcpy(dst, b.data(), n * 2);
}

// The MPI baseline's one iteration (identity experts): counts, payload, back, weighted sum.
#ifdef STRATA_PERF_WITH_MPI
double mpiIteration(const Options& o, int nranks, strataDataType_t dt,
                    const std::vector<int32_t>& ids, const std::vector<float>& w,
                    const std::vector<uint8_t>& x, std::vector<uint8_t>& out) {
  const size_t k = static_cast<size_t>(o.topk);
  const size_t row = o.hidden * sizeOf(dt);
  const int lx = o.experts / nranks;
  const size_t rec = row + k * 8;  // payload, ids, weights
  MPI_Barrier(MPI_COMM_WORLD);
  const auto t0 = Clock::now();
  std::vector<int> scount(static_cast<size_t>(nranks)), rcount(static_cast<size_t>(nranks));
  std::vector<std::vector<int32_t>> toks(static_cast<size_t>(nranks));
  for (size_t t = 0; t < o.tokens; ++t) {
    std::vector<char> seen(static_cast<size_t>(nranks));
    for (size_t j = 0; j < k; ++j) seen[static_cast<size_t>(ids[t * k + j] / lx)] = 1;
    for (int r = 0; r < nranks; ++r)
      if (seen[static_cast<size_t>(r)])
        toks[static_cast<size_t>(r)].push_back(static_cast<int32_t>(t));
  }
  for (int r = 0; r < nranks; ++r)
    scount[static_cast<size_t>(r)] = static_cast<int>(toks[static_cast<size_t>(r)].size());
  MPI_Alltoall(scount.data(), 1, MPI_INT, rcount.data(), 1, MPI_INT, MPI_COMM_WORLD);
  std::vector<int> sb(static_cast<size_t>(nranks)), rb(static_cast<size_t>(nranks)),
      sd(static_cast<size_t>(nranks)), rd(static_cast<size_t>(nranks));
  int so = 0, ro = 0;
  for (int r = 0; r < nranks; ++r) {
    sb[static_cast<size_t>(r)] = scount[static_cast<size_t>(r)] * static_cast<int>(rec);
    rb[static_cast<size_t>(r)] = rcount[static_cast<size_t>(r)] * static_cast<int>(rec);
    sd[static_cast<size_t>(r)] = so;
    rd[static_cast<size_t>(r)] = ro;
    so += sb[static_cast<size_t>(r)];
    ro += rb[static_cast<size_t>(r)];
  }
  std::vector<uint8_t> sendBuf(static_cast<size_t>(so)), recvBuf(static_cast<size_t>(ro));
  size_t p = 0;
  for (int r = 0; r < nranks; ++r)
    for (int32_t t : toks[static_cast<size_t>(r)]) {
      std::memcpy(&sendBuf[p], &x[static_cast<size_t>(t) * row], row);
      std::memcpy(&sendBuf[p + row], &ids[static_cast<size_t>(t) * k], k * 4);
      std::memcpy(&sendBuf[p + row + k * 4], &w[static_cast<size_t>(t) * k], k * 4);
      p += rec;
    }
  MPI_Alltoallv(sendBuf.data(), sb.data(), sd.data(), MPI_BYTE, recvBuf.data(), rb.data(),
                rd.data(), MPI_BYTE, MPI_COMM_WORLD);
  // Experts (identity) and the local weighted sum per received token, in float32.
  int me = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  const size_t nrecv = static_cast<size_t>(ro) / rec;
  std::vector<float> acc(o.hidden), xf(o.hidden);
  std::vector<uint8_t> back(nrecv * row);
  for (size_t i = 0; i < nrecv; ++i) {
    const uint8_t* q = &recvBuf[i * rec];
    widen(dt, q, xf.data(), o.hidden);
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (size_t j = 0; j < k; ++j) {
      int32_t e;
      float wt;
      std::memcpy(&e, q + row + j * 4, 4);
      std::memcpy(&wt, q + row + k * 4 + j * 4, 4);
      if (e / lx != me) continue;
      for (size_t h = 0; h < o.hidden; ++h) acc[h] += wt * xf[h];
    }
    narrow(dt, acc.data(), &back[i * row], o.hidden);
  }
  for (int r = 0; r < nranks; ++r) {
    sb[static_cast<size_t>(r)] = rcount[static_cast<size_t>(r)] * static_cast<int>(row);
    rb[static_cast<size_t>(r)] = scount[static_cast<size_t>(r)] * static_cast<int>(row);
  }
  so = ro = 0;
  for (int r = 0; r < nranks; ++r) {
    sd[static_cast<size_t>(r)] = so;
    rd[static_cast<size_t>(r)] = ro;
    so += sb[static_cast<size_t>(r)];
    ro += rb[static_cast<size_t>(r)];
  }
  std::vector<uint8_t> ret(static_cast<size_t>(ro));
  MPI_Alltoallv(back.data(), sb.data(), sd.data(), MPI_BYTE, ret.data(), rb.data(), rd.data(),
                MPI_BYTE, MPI_COMM_WORLD);
  std::vector<float> sum(o.tokens * o.hidden, 0.0f);
  p = 0;
  for (int r = 0; r < nranks; ++r)
    for (int32_t t : toks[static_cast<size_t>(r)]) {
      widen(dt, &ret[p], xf.data(), o.hidden);
      float* dst = &sum[static_cast<size_t>(t) * o.hidden];
      for (size_t h = 0; h < o.hidden; ++h) dst[h] += xf[h];
      p += row;
    }
  out.assign(reinterpret_cast<uint8_t*>(sum.data()), reinterpret_cast<uint8_t*>(sum.data()) + 4);
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}
#endif

// The synthetic expert: the calling thread sleeps, as it would while an accelerator runs the
// expert, leaving the CPU to the transfer (a spin would model a CPU expert on the same cores).
void computeFor(double us) {
  if (us <= 0) return;
  std::this_thread::sleep_for(std::chrono::duration<double, std::micro>(us));
}

// One rank: warm-up, then timed iterations; times in µs (simulated on the sim transport).
Times runRank(const Options& o, strataComm_t comm, double zipf, const std::vector<int32_t>& slots,
              bool simulated, bool mpiBaseline) {
  int rank = 0, n = 1;
  check(strataCommUserRank(comm, &rank), "strataCommUserRank", comm);
  check(strataCommCount(comm, &n), "strataCommCount", comm);
  const strataDataType_t dt = typeOf(o.dtype);
  strataMoeConfig_t mc{};
  mc.maxTokensPerRank = o.tokens;
  mc.hidden = o.hidden;
  mc.topk = o.topk;
  mc.numExperts = o.experts;
  mc.dtype = dt;
  mc.dispatchQuant = o.quant == "int8" ? strataMoeQuantInt8 : strataMoeQuantNone;
  mc.combineQuant = mc.dispatchQuant;
  mc.numSlots = static_cast<int>(slots.size());
  strataMoeBuffer_t buf = nullptr, fifoBuf = nullptr;
  check(strataMoeBufferCreate(comm, &mc, &buf), "strataMoeBufferCreate", comm);
  if (o.direct == "both") {  // one rank per process (main checks it)
    setenv("STRATA_MOE_DIRECT", "0", 1);
    check(strataMoeBufferCreate(comm, &mc, &fifoBuf), "strataMoeBufferCreate", comm);
    unsetenv("STRATA_MOE_DIRECT");
  }
  for (strataMoeBuffer_t b : {buf, fifoBuf})
    if (b && !slots.empty())
      check(strataMoeBufferSetPlacement(b, slots.data(), static_cast<int>(slots.size())),
            "strataMoeBufferSetPlacement", comm);
  const strataMoeBuffer_t mainBuf = buf;
  size_t maxRows = 0;
  check(strataMoeGetMaxRecvTokens(buf, &maxRows), "strataMoeGetMaxRecvTokens", comm);
  const std::vector<int32_t> ids = routingOf(o, zipf, rank);
  std::vector<float> w(ids.size(), 1.0f / static_cast<float>(o.topk));
  std::vector<uint8_t> x(o.tokens * o.hidden * sizeOf(dt), 0x3c),
      recvX(maxRows * o.hidden * sizeOf(dt)), out(x.size()), mpiOut;
  std::vector<int> counts(static_cast<size_t>(mc.numSlots ? mc.numSlots : mc.numExperts) /
                          static_cast<size_t>(n));
  Times tm;
  auto clockUs = [&]() {
    if (!simulated)
      return std::chrono::duration<double, std::micro>(Clock::now().time_since_epoch()).count();
    strataStats_t st;
    check(strataCommGetStats(comm, &st), "strataCommGetStats", comm);
    return st.simClockUs;
  };
  strataStream_t stream = nullptr;
  if (o.pipeline != "off") check(strataStreamCreate(&stream), "strataStreamCreate", comm);
  size_t lastRows = 0;  // rows the last dispatch delivered here
  // Unpipelined: one chunk, dispatch, the experts over every row, combine.
  auto plainRun = [&](double* d, double* c) {
    check(strataMoeBufferSetChunkTokens(buf, o.tokens), "strataMoeBufferSetChunkTokens", comm);
    check(strataBarrier(comm, nullptr), "strataBarrier", comm);
    strataStats_t before{};
    check(strataCommGetStats(comm, &before), "strataCommGetStats", comm);
    const double t0 = clockUs();
    size_t& rows = lastRows;
    strataMoeHandle_t h{};
    check(strataMoeDispatch(buf, x.data(), dt, o.tokens, ids.data(), strataInt32, w.data(),
                            recvX.data(), nullptr, nullptr, counts.data(), &rows, &h, nullptr),
          "strataMoeDispatch", comm);
    const double t1 = clockUs();
    if (!simulated) computeFor(o.computeUsPerToken * static_cast<double>(rows));
    const double t2 = clockUs();
    check(strataMoeCombine(buf, &h, recvX.data(), dt, out.data(), nullptr), "strataMoeCombine",
          comm);
    const double t3 = clockUs();
    strataStats_t after{};
    check(strataCommGetStats(comm, &after), "strataCommGetStats", comm);
    for (int l = 0; l < STRATA_MAX_LEVELS; ++l)
      tm.levelBytes[l] = after.total.bytesSent[l] - before.total.bytesSent[l];
    *d = t1 - t0;
    *c = t3 - t2;
    return t3 - t0;
  };
  // Pipelined: chunks of --chunk tokens on a stream; the expert runs per landed chunk and hands
  // its rows back to the combine queued behind the dispatch.
  auto pipedRun = [&](double* d, double* c) {
    check(strataMoeBufferSetChunkTokens(buf, o.chunk), "strataMoeBufferSetChunkTokens", comm);
    check(strataBarrier(comm, nullptr), "strataBarrier", comm);
    const double t0 = clockUs();
    size_t rows = 0;
    strataMoeHandle_t h{};
    check(strataMoeDispatch(buf, x.data(), dt, o.tokens, ids.data(), strataInt32, w.data(),
                            recvX.data(), nullptr, nullptr, counts.data(), &rows, &h, stream),
          "strataMoeDispatch", comm);
    // Identity experts: a landed row is its own output, so expertOut is recvX itself (as in the
    // unpipelined run); a real expert would write its rows elsewhere.
    check(strataMoeCombinePipelined(buf, &h, recvX.data(), dt, out.data(), stream),
          "strataMoeCombinePipelined", comm);
    // Each step waits for one landed range, gathers further landed ranges up to about one
    // chunk's rows (chunk x topk), runs the experts on them at once (one grouped kernel) and
    // hands them back.
    std::vector<strataMoeChunk_t> batch;
    const size_t cap = std::max<size_t>(1, o.chunk) * static_cast<size_t>(o.topk);
    for (bool done = false; !done;) {
      batch.clear();
      strataMoeChunk_t ch{};
      check(strataMoeDispatchNextChunk(buf, -1, 1, &ch), "strataMoeDispatchNextChunk", comm);
      if (ch.numRows == 0) break;
      batch.push_back(ch);
      for (size_t rows = ch.numRows; rows < cap; rows += ch.numRows) {
        const strataResult_t r = strataMoeDispatchNextChunk(buf, -1, 0, &ch);
        if (r == strataInProgress) break;
        check(r, "strataMoeDispatchNextChunk", comm);
        if (ch.numRows == 0) {
          done = true;
          break;
        }
        batch.push_back(ch);
      }
      size_t batchRows = 0;
      for (const strataMoeChunk_t& b : batch) batchRows += b.numRows;
      if (!simulated) computeFor(o.computeUsPerToken * static_cast<double>(batchRows));
      for (const strataMoeChunk_t& b : batch) {
        check(strataMoeCombineRowsReady(buf, &h, b.firstRow, b.numRows),
              "strataMoeCombineRowsReady", comm);
      }
    }
    const double t1 = clockUs();
    check(strataStreamSynchronize(stream), "strataStreamSynchronize", comm);
    const double t3 = clockUs();
    *d = t1 - t0;  // until the last chunk was handed out (its compute included)
    *c = t3 - t1;
    return t3 - t0;
  };
  for (int it = 0; it < o.warmup + o.iters; ++it) {
#ifdef STRATA_PERF_WITH_MPI
    const bool mpiFirst = mpiBaseline && it % 2 == 1;  // interleaved, alternating order
    double mpiUs = 0;
    if (mpiFirst) mpiUs = mpiIteration(o, n, dt, ids, w, x, mpiOut);
#else
    (void)mpiBaseline;
    const double mpiUs = 0;
#endif
    double d = 0, c = 0, total = 0, piped = 0, pd = 0, pc = 0, fifo = 0;
    if (fifoBuf && it % 2 == 1) {  // --direct both: the FIFO buffer first on odd iterations
      buf = fifoBuf;
      double fd = 0, fc = 0;
      fifo = plainRun(&fd, &fc);
      buf = mainBuf;
    }
    if (o.pipeline == "off") {
      total = plainRun(&d, &c);
    } else if (o.pipeline == "on") {
      total = pipedRun(&d, &c);
    } else if (it % 2 == 0) {  // both, interleaved in alternating order
      total = plainRun(&d, &c);
      piped = pipedRun(&pd, &pc);
    } else {
      piped = pipedRun(&pd, &pc);
      total = plainRun(&d, &c);
    }
    if (simulated && o.pipeline == "both") {
      // The sim's clock does not run during the caller's compute: model it. Unpipelined: D +
      // compute + B. Pipelined: the simulated pipelined transfer P in R rounds (split between
      // dispatch and combine as D : B) as the stream runs them: dispatch rounds back to back,
      // round c's compute once it has landed and the previous compute ended, combine round c
      // once every dispatch round, its compute and the previous combine round are done.
      const size_t chunk = o.chunk == 0
                               ? std::min(o.tokens, std::max<size_t>(16, (o.tokens + 3) / 4))
                               : std::min(o.chunk, o.tokens);  // the library's default when 0
      const double r = std::ceil(static_cast<double>(o.tokens) / static_cast<double>(chunk));
      const double compute = o.computeUsPerToken * static_cast<double>(lastRows);
      const double dp = d + c > 0 ? piped * d / (d + c) / r : 0, bp = piped / r - dp;
      const double cr = compute / r;
      total = d + compute + c;
      double computeEnd = 0, combineEnd = 0;
      for (int k = 0; k < static_cast<int>(r); ++k) {
        computeEnd = std::max((k + 1) * dp, computeEnd) + cr;
        combineEnd = std::max({r * dp, computeEnd, combineEnd}) + bp;
      }
      piped = combineEnd;
    }
    if (fifoBuf && it % 2 == 0) {
      buf = fifoBuf;
      double fd = 0, fc = 0;
      fifo = plainRun(&fd, &fc);
      buf = mainBuf;
    }
#ifdef STRATA_PERF_WITH_MPI
    if (mpiBaseline && !mpiFirst) mpiUs = mpiIteration(o, n, dt, ids, w, x, mpiOut);
#endif
    if (it < o.warmup) continue;
    tm.dispatch.push_back(d);
    tm.combine.push_back(c);
    tm.total.push_back(total);
    tm.mpi.push_back(mpiUs);
    tm.pipelined.push_back(piped);
    tm.fifo.push_back(fifo);
  }
  if (stream) strataStreamDestroy(stream);
  // The slowest rank of each iteration.
  for (auto* v : {&tm.dispatch, &tm.combine, &tm.total, &tm.mpi, &tm.pipelined, &tm.fifo})
    check(strataAllReduce(v->data(), v->data(), v->size(), strataFloat64, strataMax, comm, nullptr),
          "strataAllReduce", comm);
  strataMoeBufferDestroy(buf);
  if (fifoBuf) strataMoeBufferDestroy(fifoBuf);
  return tm;
}

void report(const Options& o, int nranks, const Times& t, bool mpiBaseline) {
  const double d = median(t.dispatch), c = median(t.combine), e = median(t.total);
  std::printf(
      "# %d ranks, %zu tokens/rank, hidden %zu, top-%d of %d experts, %s, dist %s, quant "
      "%s%s, pipeline %s (chunk %zu)\n",
      nranks, o.tokens, o.hidden, o.topk, o.experts, o.dtype.c_str(), o.dist.c_str(),
      o.quant.c_str(), o.placement.empty() ? "" : (", placement " + o.placement).c_str(),
      o.pipeline.c_str(), o.chunk);
  std::printf("%-12s %12s\n", "phase", "median_us");
  std::printf("%-12s %12.1f\n", "dispatch", d);
  std::printf("%-12s %12.1f\n", "combine", c);
  std::printf("%-12s %12.1f\n", "end_to_end", e);
  std::printf("tokens_per_s %.0f\n", e > 0 ? static_cast<double>(o.tokens) * nranks / e * 1e6 : 0);
  if (o.pipeline == "both") {
    const double p = median(t.pipelined);
    std::printf("pipelined_us %.1f\npipelined_over_unpipelined %.3f\n", p, e > 0 ? p / e : 0);
  }
  if (o.direct == "both") {
    const double f = median(t.fifo);
    std::printf("fifo_end_to_end_us %.1f\ndirect_over_fifo %.3f\n", f, f > 0 ? e / f : 0);
  }
  if (mpiBaseline) {
    const double m = median(t.mpi);
    std::printf("mpi_baseline_us %.1f\nstrata_over_mpi %.3f\n", m, m > 0 ? e / m : 0);
  }
  std::printf("end_to_end_us %.1f\n", e);
}

int timingOnly(const Options& o, double zipf) {
  const strata::perf::SimTopology topo = strata::perf::openSimTopology(o.sim);
  const int n = topo.nranks;
  const int lx = o.experts / n;
  if (lx == 0 || o.experts % n != 0)
    throw std::runtime_error("--experts " + std::to_string(o.experts) +
                             " must be a multiple of the topology's " + std::to_string(n) +
                             " ranks");
  const auto start = Clock::now();
  // With a placement, each source rank routes an expert to the replica the library would pick
  // (strataMoePlacementRoute), and the counts go to the rank holding that slot.
  const std::vector<int32_t> slots = placementOf(o, zipf, n);
  std::vector<int32_t> route(static_cast<size_t>(o.experts));
  const auto k = static_cast<size_t>(o.topk);
  // Every rank's tokens as the slots they go to (strataMoeSimTimingOnlyRouted).
  std::vector<int32_t> slotIdx(static_cast<size_t>(n) * o.tokens * k);
  for (int s = 0; s < n; ++s) {
    if (slots.empty()) {
      for (int e = 0; e < o.experts; ++e) route[static_cast<size_t>(e)] = e;
    } else {
      check(strataMoePlacementRoute(topo.spec.c_str(), slots.data(), static_cast<int>(slots.size()),
                                    o.experts, n, s, route.data()),
            "strataMoePlacementRoute", nullptr);
    }
    const std::vector<int32_t> ids = routingOf(o, zipf, s);
    for (size_t q = 0; q < o.tokens * k; ++q)
      slotIdx[static_cast<size_t>(s) * o.tokens * k + q] = route[static_cast<size_t>(ids[q])];
  }
  strataMoeConfig_t mc{};
  mc.maxTokensPerRank = o.tokens;
  mc.hidden = o.hidden;
  mc.topk = o.topk;
  mc.numExperts = o.experts;
  mc.dtype = typeOf(o.dtype);
  mc.dispatchQuant = o.quant == "int8" ? strataMoeQuantInt8 : strataMoeQuantNone;
  mc.combineQuant = mc.dispatchQuant;
  mc.numSlots = static_cast<int>(slots.size());
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.topoFile = topo.spec.c_str();
  strataSimResult_t d{}, c{};
  const std::vector<size_t> numTokens(static_cast<size_t>(n), o.tokens);
  check(strataMoeSimTimingOnlyRouted(&cfg, &mc, slotIdx.data(), numTokens.data(), &d, &c),
        "strataMoeSimTimingOnlyRouted", nullptr);
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("# %s\n", strata::perf::simHeaderLine(topo, true).c_str());
  Times t;
  t.dispatch = {d.simTimeUs};
  t.combine = {c.simTimeUs};
  t.total = {d.simTimeUs + c.simTimeUs};
  std::printf("# wall time of the evaluation: %.2f s\n", wall);
  std::printf("# route %s\n", d.algo);
  report(o, n, t, false);
  std::printf("dispatch_level_bytes %llu %llu\ncombine_level_bytes %llu %llu\n",
              static_cast<unsigned long long>(d.bytesSent[0]),
              static_cast<unsigned long long>(d.bytesSent[1]),
              static_cast<unsigned long long>(c.bytesSent[0]),
              static_cast<unsigned long long>(c.bytesSent[1]));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"MoE dispatch + combine benchmark (docs/moe.md)"};
  app.add_option("-t,--threads", o.threads, "ranks as threads of this process");
  app.add_option("--tokens", o.tokens, "tokens per rank");
  app.add_option("--hidden", o.hidden, "hidden size");
  app.add_option("--topk", o.topk, "experts per token");
  app.add_option("--experts", o.experts, "number of experts");
  app.add_option("--dtype", o.dtype, "bfloat16, float16 or float32");
  app.add_option("--dist", o.dist, "routing: uniform or zipf:S");
  app.add_option("--quant", o.quant, "none or int8 (both legs)")
      ->check(CLI::IsMember({"none", "int8"}));
  app.add_option("--chunk", o.chunk, "tokens per pipelined chunk (0: the library's default)");
  app.add_option("--pipeline", o.pipeline,
                 "off (one chunk, synchronous), on (chunks on a stream, the expert per landed "
                 "chunk), or both (interleaved; reports pipelined_over_unpipelined)")
      ->check(CLI::IsMember({"on", "off", "both"}));
  app.add_option("--placement", o.placement, "auto (EPLB from the routing) or a JSON file");
  app.add_option("--compute-us-per-token", o.computeUsPerToken,
                 "synthetic expert compute per received row, in µs");
  app.add_option("-n,--iters", o.iters, "timed iterations");
  app.add_option("-w,--warmup", o.warmup, "warm-up iterations");
  app.add_option("--sim", o.sim, "a topology preset or file: its ranks as threads on the sim");
  app.add_flag("--timing-only", o.timingOnly, "with --sim: evaluate the plans, no payload");
  app.add_option("--baseline", o.baseline, "mpi: interleave the MPI_Alltoallv way (mpirun)")
      ->check(CLI::IsMember({"mpi"}));
  app.add_option("--direct", o.direct,
                 "on (direct puts where possible), off (STRATA_MOE_DIRECT=0) or both "
                 "(interleaved; reports direct_over_fifo)")
      ->check(CLI::IsMember({"on", "off", "both"}));
  app.add_option("--route", o.route,
                 "auto (on a two-level topology, the cheaper of the two routes, priced "
                 "timing-only), flat or hier: sets STRATA_MOE_ROUTE (docs/moe.md)")
      ->check(CLI::IsMember({"auto", "flat", "hier"}));
  CLI11_PARSE(app, argc, argv);
  if (o.direct == "off") setenv("STRATA_MOE_DIRECT", "0", 1);
  setenv("STRATA_MOE_ROUTE", o.route.c_str(), 1);
  try {
    const auto dist = strata::perf::parseRoutingDist(o.dist);
    if (!dist) throw std::runtime_error("--dist " + o.dist + ": uniform or zipf:S");
    if (o.timingOnly) {
      if (o.sim.empty()) throw std::runtime_error("--timing-only needs --sim PRESET");
      return timingOnly(o, dist->zipfExponent);
    }
    strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
    strata::perf::SimTopology topo;
    int threads = o.threads;
    if (!o.sim.empty()) {
      topo = strata::perf::openSimTopology(o.sim);
      cfg = strata::perf::simConfig(cfg, topo);
      threads = topo.nranks;
    }
    if (o.direct == "both" && threads > 1)
      throw std::runtime_error("--direct both needs one rank per process (strata-run, mpirun)");
    strata::perf::Launch launch(&argc, &argv, threads);
    const bool mpiBaseline = o.baseline == "mpi";
    if (mpiBaseline && launch.launcher() != "mpirun")
      throw std::runtime_error("--baseline mpi runs under mpirun");
#ifndef STRATA_PERF_WITH_MPI
    if (mpiBaseline) throw std::runtime_error("--baseline mpi: built without MPI");
#endif
    std::vector<strataComm_t> comms = launch.createComms(cfg);
    int nranks = 0;
    check(strataCommCount(comms[0], &nranks), "strataCommCount", comms[0]);
    const std::vector<int32_t> slots = placementOf(o, dist->zipfExponent, nranks);
    std::vector<Times> times(comms.size());
    std::vector<std::thread> ts;
    std::vector<std::string> errors(comms.size());
    for (size_t i = 0; i < comms.size(); ++i)
      ts.emplace_back([&, i] {
        try {
          times[i] = runRank(o, comms[i], dist->zipfExponent, slots, !o.sim.empty(), mpiBaseline);
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
    for (auto& t : ts) t.join();
    for (const std::string& e : errors)
      if (!e.empty()) throw std::runtime_error(e);
    int rank = 0;
    check(strataCommUserRank(comms[0], &rank), "strataCommUserRank", comms[0]);
    if (!o.sim.empty()) std::printf("# %s\n", strata::perf::simHeaderLine(topo, false).c_str());
    if (rank == 0) report(o, nranks, times[0], mpiBaseline);
    if (!o.sim.empty() && o.pipeline != "on") {  // every rank is a thread here
      uint64_t level[2] = {};
      for (const Times& t : times)
        for (int l = 0; l < 2; ++l) level[l] += t.levelBytes[l];
      std::printf("level_bytes %llu %llu\n", static_cast<unsigned long long>(level[0]),
                  static_cast<unsigned long long>(level[1]));
    }
    for (strataComm_t c : comms) strataCommDestroy(c);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moe_dispatch_perf: %s\n", e.what());
    return 1;
  }
  return 0;
}
