// A tensor-parallel decoder layer's forward, in plain C++ over the public C API, run four ways:
//
//   baseline   attention stand-in (column-parallel [H, D/t]) -> o_proj row-parallel [D/t, H] ->
//              AllReduce of the partial sums -> residual add + RMSNorm on all N rows;
//   fc1        the same o_proj, then strataAllReduceFused: ReduceScatter -> residual add +
//              RMSNorm on this rank's N/t rows (the epilogue) -> AllGather;
//   fc1-int8   fc1 with the gather in int8, one float32 scale per token (W8A8);
//   fc2        AllToAll of the head-sharded attention output [N, D/t] into token-sharded
//              [N/t, D], a replicated o_proj [D, H] and residual + RMSNorm on the N/t rows, then
//              an AllGather of [N/t, H] so every rank holds the layer's output, as the others.
//
// Every way is checked against a single-rank reference of the same layer: within 1e-4 (relative
// to 1 + |ref|, float32 sums in another order) for baseline, fc1 and fc2, and within the int8
// bound max|row| / 254 (+1e-4) for fc1-int8. It reports bytes sent (all ranks, from the
// statistics), RMSNorm elements computed per rank, and time: on the sim (--sim hccs-8) the
// simulated time of the communication calls, on shm (under strata-run) the wall clock of the
// whole forward (median of --iters).
//
// Options: --sim PRESET, --tokens N (a multiple of the ranks; default 64), --hidden H (512),
//          --attn D (a multiple of the ranks; 512), --iters K (shm; default 9).
#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "strata/strata.h"

namespace {

struct Options {
  size_t tokens = 64, hidden = 512, attn = 512;
  int iters = 9;
  const char* sim = nullptr;
};
Options opts;

void check(strataResult_t r, const char* what, strataComm_t comm) {
  if (r == strataSuccess) return;
  std::fprintf(stderr, "tp_decoder: %s failed: %s: %s\n", what, strataGetErrorString(r),
               strataGetLastError(comm));
  std::exit(1);
}
#define CHECK(call, comm) check((call), #call, (comm))

constexpr float kEps = 1e-6f;
const char* const kWays[] = {"baseline", "fc1", "fc1-int8", "fc2"};
char wayAlgo[4][32] = {};  // rank 0: the algorithm the scheduler picked for each way's last call
constexpr int kNumWays = 4;

// Deterministic inputs every rank can compute: x [N, H], the attention stand-in wa [H, D], o_proj
// wo [D, H], the norm's gamma [H].
struct Weights {
  std::vector<float> x, wa, wo, gamma;
};

float value(size_t i, size_t salt, float scale) {
  return scale * (static_cast<float>((i * 2654435761u + salt * 40503u) % 2001) / 1000.0f - 1.0f);
}

Weights makeWeights() {
  const size_t N = opts.tokens, H = opts.hidden, D = opts.attn;
  Weights w;
  w.x.resize(N * H);
  w.wa.resize(H * D);
  w.wo.resize(D * H);
  w.gamma.resize(H);
  for (size_t i = 0; i < w.x.size(); ++i) w.x[i] = value(i, 1, 1.0f);
  for (size_t i = 0; i < w.wa.size(); ++i) w.wa[i] = value(i, 2, 1.0f / std::sqrt(float(H)));
  for (size_t i = 0; i < w.wo.size(); ++i) w.wo[i] = value(i, 3, 1.0f / std::sqrt(float(D)));
  for (size_t i = 0; i < H; ++i) w.gamma[i] = 0.5f + value(i, 4, 0.25f);
  return w;
}

// out[rows, cols] = a[rows, k] (row stride lda, from column a0) * b[k, cols] (row stride ldb,
// from column b0).
void matmul(const float* a, size_t lda, const float* b, size_t ldb, float* out, size_t rows,
            size_t k, size_t cols) {
  for (size_t r = 0; r < rows; ++r) {
    float* o = out + r * cols;
    std::fill(o, o + cols, 0.0f);
    for (size_t j = 0; j < k; ++j) {
      const float av = a[r * lda + j];
      const float* br = b + j * ldb;
      for (size_t c = 0; c < cols; ++c) o[c] += av * br[c];
    }
  }
}

// rows of y = RMSNorm(y + residual) * gamma, in place; returns the elements normalised.
size_t addNorm(float* y, const float* residual, const float* gamma, size_t rows, size_t H) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = y + r * H;
    double ss = 0;
    for (size_t c = 0; c < H; ++c) {
      row[c] += residual[r * H + c];
      ss += double(row[c]) * row[c];
    }
    const float inv = 1.0f / std::sqrt(float(ss / double(H)) + kEps);
    for (size_t c = 0; c < H; ++c) row[c] = row[c] * inv * gamma[c];
  }
  return rows * H;
}

// The fused AllReduce's epilogue: residual add + RMSNorm on this rank's rows.
struct EpilogueState {
  const Weights* w;
  size_t normElems = 0;
};

void addNormEpilogue(void* shard, size_t elemOffset, size_t elemCount, strataDataType_t,
                     void* user) {
  auto* st = static_cast<EpilogueState*>(user);
  const size_t H = opts.hidden;
  st->normElems += addNorm(static_cast<float*>(shard), st->w->x.data() + elemOffset,
                           st->w->gamma.data(), elemCount / H, H);
}

struct WayResult {
  double timeUs = 0;      // sim: simulated time of the communication; shm: wall clock
  uint64_t bytes = 0;     // bytes this rank sent
  size_t normElems = 0;   // RMSNorm elements this rank computed
  double maxErr = 0;      // largest |y - ref| / bound over the output (<= 1 passes)
};

uint64_t bytesSent(strataComm_t comm) {
  strataStats_t s{};
  CHECK(strataCommGetStats(comm, &s), comm);
  uint64_t b = 0;
  for (int l = 0; l < STRATA_MAX_LEVELS; ++l) b += s.total.bytesSent[l];
  return b;
}

double simClockUs(strataComm_t comm) {
  strataStats_t s{};
  CHECK(strataCommGetStats(comm, &s), comm);
  return s.simClockUs;
}

double nowUs() {
  return std::chrono::duration<double, std::micro>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One rank's forward, one way; y receives the layer's [N, H] output. comm time accumulates the
// virtual time of the communication calls (sim).
size_t forward(int way, strataComm_t comm, int rank, int t, const Weights& w, std::vector<float>& y,
               double& commUs) {
  const size_t N = opts.tokens, H = opts.hidden, D = opts.attn, Dt = D / t, Nt = N / t;
  auto timed = [&](auto&& call) {
    const double t0 = simClockUs(comm);
    call();
    commUs += simClockUs(comm) - t0;
  };
  // Attention stand-in, column-parallel: a [N, D/t] = x [N, H] * wa[:, rank's D/t columns].
  std::vector<float> a(N * Dt);
  matmul(w.x.data(), H, w.wa.data() + rank * Dt, D, a.data(), N, H, Dt);
  y.assign(N * H, 0.0f);
  if (way == 3) {
    // FC2: [N, D/t] -> [t][N/t][D/t] (block k: rank k's heads for this rank's tokens) -> [N/t, D].
    std::vector<float> blocks(N * Dt), tok(Nt * D), out(Nt * H);
    timed([&] {
      CHECK(strataAllToAll(a.data(), blocks.data(), Nt * Dt, strataFloat32, comm, nullptr), comm);
    });
    for (int k = 0; k < t; ++k)
      for (size_t i = 0; i < Nt; ++i)
        std::memcpy(&tok[i * D + k * Dt], &blocks[(k * Nt + i) * Dt], Dt * sizeof(float));
    matmul(tok.data(), D, w.wo.data(), H, out.data(), Nt, D, H);  // replicated o_proj
    const size_t norm = addNorm(out.data(), w.x.data() + rank * Nt * H, w.gamma.data(), Nt, H);
    timed([&] {
      CHECK(strataAllGather(out.data(), y.data(), Nt * H, strataFloat32, comm, nullptr), comm);
    });
    return norm;
  }
  // o_proj, row-parallel: partial [N, H] = a [N, D/t] * wo[rank's D/t rows, :].
  std::vector<float> partial(N * H);
  matmul(a.data(), Dt, w.wo.data() + rank * Dt * H, H, partial.data(), N, Dt, H);
  if (way == 0) {
    timed([&] {
      CHECK(strataAllReduce(partial.data(), y.data(), N * H, strataFloat32, strataSum, comm,
                            nullptr),
            comm);
    });
    return addNorm(y.data(), w.x.data(), w.gamma.data(), N, H);
  }
  EpilogueState st{&w, 0};
  strataEpilogue_t epi{};
  epi.fn = addNormEpilogue;
  epi.user = &st;
  epi.rowElems = H;
  epi.quantizeGather = way == 2 ? 1 : 0;
  epi.quant = strataQuantInt8;
  timed([&] {
    CHECK(strataAllReduceFused(partial.data(), y.data(), N * H, strataFloat32, strataSum, &epi,
                               comm, nullptr),
          comm);
  });
  return st.normElems;
}

// The layer on one rank with every weight: the reference.
std::vector<float> reference(const Weights& w) {
  const size_t N = opts.tokens, H = opts.hidden, D = opts.attn;
  std::vector<float> a(N * D), y(N * H);
  matmul(w.x.data(), H, w.wa.data(), D, a.data(), N, H, D);
  matmul(a.data(), D, w.wo.data(), H, y.data(), N, D, H);
  addNorm(y.data(), w.x.data(), w.gamma.data(), N, H);
  return y;
}

// Largest error over the output as a fraction of the way's bound.
double errorRatio(int way, const std::vector<float>& y, const std::vector<float>& ref) {
  const size_t N = opts.tokens, H = opts.hidden;
  double worst = 0;
  for (size_t r = 0; r < N; ++r) {
    float rowMax = 0;
    for (size_t c = 0; c < H; ++c) rowMax = std::max(rowMax, std::fabs(ref[r * H + c]));
    for (size_t c = 0; c < H; ++c) {
      const double ref1 = ref[r * H + c];
      const double bound = way == 2 ? rowMax / 254.0 + 1e-4 : 1e-4 * (1.0 + std::fabs(ref1));
      worst = std::max(worst, std::fabs(double(y[r * H + c]) - ref1) / bound);
    }
  }
  return worst;
}

// Every way on one rank: a warm-up, then (shm) --iters interleaved timed rounds.
void runRank(strataComm_t comm, int rank, int t, WayResult* results) {
  const Weights w = makeWeights();
  const std::vector<float> ref = reference(w);
  std::vector<float> y;
  double unused = 0;
  for (int way = 0; way < kNumWays; ++way) forward(way, comm, rank, t, w, y, unused);
  const int rounds = opts.sim ? 1 : opts.iters;
  std::vector<std::vector<double>> samples(kNumWays);
  for (int round = 0; round < rounds; ++round) {
    for (int way = 0; way < kNumWays; ++way) {
      WayResult& res = results[way];
      CHECK(strataBarrier(comm, nullptr), comm);
      const uint64_t b0 = bytesSent(comm);
      double commUs = 0;
      const double t0 = nowUs();
      res.normElems = forward(way, comm, rank, t, w, y, commUs);
      if (rank == 0) {
        strataStats_t st{};
        CHECK(strataCommGetStats(comm, &st), comm);
        std::memcpy(wayAlgo[way], st.lastAlgo, sizeof(wayAlgo[way]));
      }
      samples[way].push_back(opts.sim ? commUs : nowUs() - t0);
      res.bytes = bytesSent(comm) - b0;
      res.maxErr = std::max(res.maxErr, errorRatio(way, y, ref));
    }
  }
  for (int way = 0; way < kNumWays; ++way) {
    std::vector<double>& s = samples[way];
    std::sort(s.begin(), s.end());
    results[way].timeUs = s[s.size() / 2];
  }
}

size_t parseSize(const char* flag, const char* v) {
  char* end = nullptr;
  const long long n = v ? std::strtoll(v, &end, 10) : 0;
  if (!v || *end != '\0' || n < 1) {
    std::fprintf(stderr, "tp_decoder: %s needs an integer >= 1, not '%s'\n", flag, v ? v : "");
    std::exit(2);
  }
  return static_cast<size_t>(n);
}

void parseArgs(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--sim" && v) opts.sim = argv[++i];
    else if (a == "--tokens") opts.tokens = parseSize("--tokens", v), ++i;
    else if (a == "--hidden") opts.hidden = parseSize("--hidden", v), ++i;
    else if (a == "--attn") opts.attn = parseSize("--attn", v), ++i;
    else if (a == "--iters") opts.iters = static_cast<int>(parseSize("--iters", v)), ++i;
    else {
      std::fprintf(stderr, "usage: tp_decoder [--sim PRESET] [--tokens N] [--hidden H] "
                           "[--attn D] [--iters K]\n");
      std::exit(2);
    }
  }
}

void checkShape(int t) {
  if (opts.tokens % t != 0 || opts.attn % t != 0) {
    std::fprintf(stderr, "tp_decoder: --tokens %zu and --attn %zu must be multiples of the %d "
                 "ranks (pad the tokens as FlashComm does)\n", opts.tokens, opts.attn, t);
    std::exit(2);
  }
}

// ways[w][r]: rank r's result of way w. Prints the table; returns 0 when every way passed.
int report(const char* where, int t, const std::vector<std::vector<WayResult>>& ways) {
  std::printf("tp_decoder: %s, t = %d, %zu tokens, hidden %zu, attention %zu\n", where, t,
              opts.tokens, opts.hidden, opts.attn);
  std::printf("%-9s %-9s %14s %16s %14s %12s %s\n", "way", "algo", "bytes_sent",
              "norm_elems/rank", opts.sim ? "comm_sim_us" : "wall_us", "max_err", "check");
  int failed = 0;
  const double baseUs = [&] {
    double m = 0;
    for (const WayResult& r : ways[0]) m = std::max(m, r.timeUs);
    return m;
  }();
  for (int way = 0; way < kNumWays; ++way) {
    uint64_t bytes = 0;
    size_t norm = 0;
    double us = 0, err = 0;
    for (const WayResult& r : ways[static_cast<size_t>(way)]) {
      bytes += r.bytes;
      norm = std::max(norm, r.normElems);
      us = std::max(us, r.timeUs);
      err = std::max(err, r.maxErr);
    }
    const bool ok = err <= 1.0;
    failed += ok ? 0 : 1;
    std::printf("%-9s %-9s %14llu %16zu %14.3f %12.3g %s (time %.3fx baseline; norm 1/%.3g of "
                "N*H)\n",
                kWays[way], wayAlgo[way], static_cast<unsigned long long>(bytes), norm, us, err,
                ok ? "ok" : "FAILED", baseUs > 0 ? us / baseUs : 0.0,
                norm ? double(opts.tokens * opts.hidden) / double(norm) : 0.0);
  }
  std::printf("algo: the scheduler's pick for the way's last call (fc2: its AllGather)\n");
  if (opts.sim) {
    // The ring AllReduce fc1's ring ReduceScatter + AllGather is shaped like, from a cold start.
    strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
    cfg.topoFile = opts.sim;
    cfg.algo = "allreduce:@ring";
    strataSimResult_t r{};
    CHECK(strataSimTimingOnly(&cfg, "allreduce", opts.tokens * opts.hidden, strataFloat32,
                              strataSum, 0, 0, &r),
          nullptr);
    std::printf("ring AllReduce of the same data (timing-only): %.3f us (%.3fx baseline)\n",
                r.simTimeUs, baseUs > 0 ? r.simTimeUs / baseUs : 0.0);
  }
  std::printf("max_err: largest |y - reference| over the bound (1e-4 (1 + |ref|); int8: "
              "max|row| / 254 + 1e-4); <= 1 passes\n");
  return failed ? 1 : 0;
}

int runSim() {
  int n = 0;
  CHECK(strataTopoGetRankCount(opts.sim, &n), nullptr);
  checkShape(n);
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  cfg.transport = "sim";
  cfg.topoFile = opts.sim;
  std::vector<strataComm_t> comms(static_cast<size_t>(n));
  CHECK(strataCommInitAll(comms.data(), n, &cfg), nullptr);
  std::vector<std::vector<WayResult>> ways(kNumWays,
                                           std::vector<WayResult>(static_cast<size_t>(n)));
  std::vector<std::vector<WayResult>> perRank(static_cast<size_t>(n),
                                              std::vector<WayResult>(kNumWays));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] { runRank(comms[size_t(r)], r, n, perRank[size_t(r)].data()); });
  for (auto& th : threads) th.join();
  for (int r = 0; r < n; ++r)
    for (int w = 0; w < kNumWays; ++w) ways[size_t(w)][size_t(r)] = perRank[size_t(r)][size_t(w)];
  const std::string where = std::string("sim ") + opts.sim + " (simulated communication time)";
  const int rc = report(where.c_str(), n, ways);
  for (strataComm_t c : comms) CHECK(strataCommDestroy(c), nullptr);
  return rc;
}

int runProcesses() {
  strataComm_t comm = nullptr;
  CHECK(strataCommInitFromEnv(&comm, nullptr), nullptr);
  int rank = 0, n = 0;
  CHECK(strataCommUserRank(comm, &rank), comm);
  CHECK(strataCommCount(comm, &n), comm);
  checkShape(n);
  WayResult mine[kNumWays];
  runRank(comm, rank, n, mine);
  // Every rank's results on rank 0: 4 doubles per way.
  std::vector<double> local(kNumWays * 4), all(local.size() * size_t(n));
  for (int w = 0; w < kNumWays; ++w) {
    local[size_t(w) * 4 + 0] = mine[w].timeUs;
    local[size_t(w) * 4 + 1] = double(mine[w].bytes);
    local[size_t(w) * 4 + 2] = double(mine[w].normElems);
    local[size_t(w) * 4 + 3] = mine[w].maxErr;
  }
  CHECK(strataAllGather(local.data(), all.data(), local.size(), strataFloat64, comm, nullptr),
        comm);
  int rc = 0;
  if (rank == 0) {
    std::vector<std::vector<WayResult>> ways(kNumWays,
                                           std::vector<WayResult>(static_cast<size_t>(n)));
    for (int r = 0; r < n; ++r)
      for (int w = 0; w < kNumWays; ++w) {
        const double* v = &all[(size_t(r) * kNumWays + size_t(w)) * 4];
        ways[size_t(w)][size_t(r)] = {v[0], uint64_t(v[1]), size_t(v[2]), v[3]};
      }
    const std::string where =
        "shm (wall clock of the forward, median of " + std::to_string(opts.iters) + ")";
    rc = report(where.c_str(), n, ways);
  }
  CHECK(strataCommDestroy(comm), comm);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  parseArgs(argc, argv);
  return opts.sim ? runSim() : runProcesses();
}
