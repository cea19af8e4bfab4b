/* DuoStream (FlashComm 3): the int8 AllGather of the hidden states runs on a second stream while
 * the caller's thread computes the MoE gate (router) GEMM, and the example reports how much of
 * the shorter of the two the overlap hid:
 *
 *   overlap = (comm alone + compute alone - both together) / min(comm alone, compute alone)
 *
 * Two modes:
 *   duostream --sim hccs-8       every rank a thread of this process on the simulated mesh; the
 *                                collective runs on virtual time and the GEMM's time is charged
 *                                with strataSimCompute (its FLOPs at --tflops), so the figure is
 *                                deterministic;
 *   strata-run -np 2 duostream   ranks as processes over shared memory, timed on the wall clock
 *                                (medians of --iters interleaved rounds).
 * Options: --tokens T (per rank, default 16), --hidden H (7168), --experts E (256),
 *          --iters N (shm, default 15), --tflops F (sim compute rate, default 100). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "strata/strata.h"

typedef struct {
  size_t tokens, hidden, experts;
  int iters;
  double tflops;
  const char* sim; /* preset, or NULL for the launcher's processes over shm */
} Options;

typedef struct {
  double comm, compute, both; /* microseconds */
} Times;

static Options opts = {16, 7168, 256, 15, 100.0, NULL};

#define CHECK(call, comm)                                                             \
  do {                                                                                \
    strataResult_t r_ = (call);                                                       \
    if (r_ != strataSuccess) {                                                        \
      fprintf(stderr, "duostream: %s failed: %s: %s\n", #call, strataGetErrorString(r_), \
              strataGetLastError(comm));                                              \
      exit(1);                                                                        \
    }                                                                                 \
  } while (0)

static double nowUs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double clockUs(strataComm_t comm) {
  strataStats_t s;
  CHECK(strataCommGetStats(comm, &s), comm);
  return s.simClockUs;
}

/* The gate GEMM: logits[T x E] = x[T x H] * w[H x E]. */
static void gateGemm(const float* x, const float* w, float* logits) {
  size_t t, h, e;
  memset(logits, 0, opts.tokens * opts.experts * sizeof(float));
  for (t = 0; t < opts.tokens; ++t)
    for (h = 0; h < opts.hidden; ++h) {
      const float a = x[t * opts.hidden + h];
      const float* wr = w + h * opts.experts;
      float* out = logits + t * opts.experts;
      for (e = 0; e < opts.experts; ++e) out[e] += a * wr[e];
    }
}

static double gemmFlops(void) {
  return 2.0 * (double)opts.tokens * (double)opts.hidden * (double)opts.experts;
}

static int cmpDouble(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double median(double* v, int n) {
  qsort(v, (size_t)n, sizeof(double), cmpDouble);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct {
  strataComm_t comm;
  int rank, nranks;
  Times times;
} Rank;

/* One rank: the three measurements. On the sim the times are deltas of the rank's virtual
 * clock; on shm the medians of wall-clock rounds. */
static void* runRank(void* arg) {
  Rank* me = (Rank*)arg;
  strataComm_t comm = me->comm;
  const size_t n = opts.tokens * opts.hidden;
  float* x = malloc(n * sizeof(float));
  float* gathered = malloc(n * (size_t)me->nranks * sizeof(float));
  float* w = malloc(opts.hidden * opts.experts * sizeof(float));
  float* logits = malloc(opts.tokens * opts.experts * sizeof(float));
  const int rounds = opts.sim ? 1 : opts.iters;
  double* samples = malloc(3 * (size_t)rounds * sizeof(double));
  const double gemmUs = gemmFlops() / (opts.tflops * 1e6);
  strataStream_t stream;
  size_t i;
  int round;
  if (!x || !gathered || !w || !logits || !samples) {
    fprintf(stderr, "duostream: out of memory\n");
    exit(1);
  }
  for (i = 0; i < n; ++i) x[i] = (float)(((size_t)me->rank * 31 + i * 7) % 255) / 127.0f - 1.0f;
  for (i = 0; i < opts.hidden * opts.experts; ++i) w[i] = (float)((i * 13) % 17) / 17.0f - 0.5f;
  CHECK(strataStreamCreate(&stream), comm);
  /* Warm-up: plans built and caches filled before anything is timed. */
  CHECK(strataAllGatherQuantized(x, gathered, n, strataFloat32, strataQuantInt8, opts.hidden,
                                 comm, stream),
        comm);
  CHECK(strataStreamSynchronize(stream), comm);
  gateGemm(x, w, logits);
  for (round = 0; round < rounds; ++round) {
    double t0;
    /* Communication alone, on the second stream. */
    CHECK(strataBarrier(comm, NULL), comm);
    t0 = opts.sim ? clockUs(comm) : nowUs();
    CHECK(strataAllGatherQuantized(x, gathered, n, strataFloat32, strataQuantInt8, opts.hidden,
                                   comm, stream),
          comm);
    CHECK(strataStreamSynchronize(stream), comm);
    samples[round] = (opts.sim ? clockUs(comm) : nowUs()) - t0;
    /* Compute alone, on the caller's thread. */
    CHECK(strataBarrier(comm, NULL), comm);
    t0 = opts.sim ? clockUs(comm) : nowUs();
    gateGemm(x, w, logits);
    CHECK(strataSimCompute(comm, NULL, gemmUs), comm); /* does nothing on shm */
    samples[rounds + round] = (opts.sim ? clockUs(comm) : nowUs()) - t0;
    /* Both: the AllGather queued on the stream, the GEMM on the caller's thread. */
    CHECK(strataBarrier(comm, NULL), comm);
    t0 = opts.sim ? clockUs(comm) : nowUs();
    CHECK(strataAllGatherQuantized(x, gathered, n, strataFloat32, strataQuantInt8, opts.hidden,
                                   comm, stream),
          comm);
    gateGemm(x, w, logits);
    CHECK(strataSimCompute(comm, NULL, gemmUs), comm);
    CHECK(strataStreamSynchronize(stream), comm);
    samples[2 * rounds + round] = (opts.sim ? clockUs(comm) : nowUs()) - t0;
  }
  me->times.comm = median(samples, rounds);
  me->times.compute = median(samples + rounds, rounds);
  me->times.both = median(samples + 2 * rounds, rounds);
  CHECK(strataStreamDestroy(stream), comm);
  free(samples);
  free(logits);
  free(w);
  free(gathered);
  free(x);
  return NULL;
}

static double parseNumber(const char* flag, const char* v, double min) {
  char* end = NULL;
  double d = v ? strtod(v, &end) : NAN;
  if (!v || *end != '\0' || !(d >= min)) {
    fprintf(stderr, "duostream: %s needs a number >= %g, not '%s'\n", flag, min, v ? v : "");
    exit(2);
  }
  return d;
}

static void parseArgs(int argc, char** argv) {
  int i;
  for (i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--sim") && v) opts.sim = argv[++i];
    else if (!strcmp(a, "--tokens")) opts.tokens = (size_t)parseNumber(a, v, 1), ++i;
    else if (!strcmp(a, "--hidden")) opts.hidden = (size_t)parseNumber(a, v, 1), ++i;
    else if (!strcmp(a, "--experts")) opts.experts = (size_t)parseNumber(a, v, 1), ++i;
    else if (!strcmp(a, "--iters")) opts.iters = (int)parseNumber(a, v, 1), ++i;
    else if (!strcmp(a, "--tflops")) opts.tflops = parseNumber(a, v, 1e-6), ++i;
    else {
      fprintf(stderr,
              "usage: duostream [--sim PRESET] [--tokens T] [--hidden H] [--experts E] "
              "[--iters N] [--tflops F]\n");
      exit(2);
    }
  }
}

static void report(const char* where, int nranks, const Times* t) {
  const double shorter = t->comm < t->compute ? t->comm : t->compute;
  const double overlap = shorter > 0 ? (t->comm + t->compute - t->both) / shorter : 0;
  printf("duostream: %s, %d ranks: int8 AllGather of %zu x %zu per rank on a stream beside a "
         "%zu x %zu x %zu gate GEMM on the caller's thread\n",
         where, nranks, opts.tokens, opts.hidden, opts.tokens, opts.hidden, opts.experts);
  printf("comm_alone_us %.3f\ncompute_alone_us %.3f\nboth_us %.3f\n", t->comm, t->compute,
         t->both);
  printf("overlap %.1f%%\n", 100.0 * overlap);
}

/* The latest rank's time of each measurement: the collective is as slow as its slowest rank. */
static void worstOf(const Rank* ranks, int n, Times* out) {
  int r;
  *out = ranks[0].times;
  for (r = 1; r < n; ++r) {
    if (ranks[r].times.comm > out->comm) out->comm = ranks[r].times.comm;
    if (ranks[r].times.compute > out->compute) out->compute = ranks[r].times.compute;
    if (ranks[r].times.both > out->both) out->both = ranks[r].times.both;
  }
}

static int runSim(void) {
  strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
  strataComm_t* comms;
  pthread_t* threads;
  Rank* ranks;
  Times worst;
  int n, r;
  char where[96];
  CHECK(strataTopoGetRankCount(opts.sim, &n), NULL);
  cfg.transport = "sim";
  cfg.topoFile = opts.sim;
  comms = calloc((size_t)n, sizeof(*comms));
  threads = calloc((size_t)n, sizeof(*threads));
  ranks = calloc((size_t)n, sizeof(*ranks));
  if (!comms || !threads || !ranks) return 1;
  CHECK(strataCommInitAll(comms, n, &cfg), NULL);
  for (r = 0; r < n; ++r) {
    ranks[r].comm = comms[r];
    ranks[r].rank = r;
    ranks[r].nranks = n;
    if (pthread_create(&threads[r], NULL, runRank, &ranks[r]) != 0) return 1;
  }
  for (r = 0; r < n; ++r) pthread_join(threads[r], NULL);
  worstOf(ranks, n, &worst);
  snprintf(where, sizeof(where), "sim %s (virtual time; GEMM charged at %g TFLOPS)", opts.sim,
           opts.tflops);
  report(where, n, &worst);
  for (r = 0; r < n; ++r) CHECK(strataCommDestroy(comms[r]), NULL);
  free(ranks);
  free(threads);
  free(comms);
  return 0;
}

static int runProcesses(void) {
  strataComm_t comm;
  Rank me;
  double local[3], worst[3];
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  CHECK(strataCommInitFromEnv(&comm, NULL), NULL);
  memset(&me, 0, sizeof(me));
  me.comm = comm;
  CHECK(strataCommUserRank(comm, &me.rank), comm);
  CHECK(strataCommCount(comm, &me.nranks), comm);
  runRank(&me);
  local[0] = me.times.comm;
  local[1] = me.times.compute;
  local[2] = me.times.both;
  CHECK(strataAllReduce(local, worst, 3, strataFloat64, strataMax, comm, NULL), comm);
  if (me.rank == 0) {
    Times t = {worst[0], worst[1], worst[2]};
    char where[96];
    snprintf(where, sizeof(where), "shm (wall clock, medians of %d rounds)", opts.iters);
    report(where, me.nranks, &t);
    /* Each rank runs two busy threads at once (its caller's GEMM and its stream's progress
     * loop); past one rank per core they share cores, and the overlap can only hide what the
     * spare cores can run. */
    printf("note: %d ranks x 2 busy threads (GEMM + stream) on %ld online cores: %s\n",
           me.nranks, cores,
           2L * me.nranks <= cores
               ? "every thread has a core, so the AllGather can hide behind the GEMM"
               : "the stream's progress thread competes with the GEMMs for the cores, so the "
                 "overlap is bounded by the cores left over, not by Strata");
  }
  CHECK(strataCommDestroy(comm), NULL);
  return 0;
}

int main(int argc, char** argv) {
  parseArgs(argc, argv);
  return opts.sim ? runSim() : runProcesses();
}
