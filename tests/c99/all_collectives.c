/*
 * Every Strata collective from plain C99, through the public header only. Run under strata-run:
 * each rank initialises from the environment, runs every collective with result checks and prints
 * "OK rank R". Inputs are small integers, so every reduction order gives the exact answer in float.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/strata.h"

static int g_rank = -1;
static int g_nranks = 0;
static strataComm_t g_comm = NULL;

/* Counts chosen not to divide evenly by 2, 3 or 4 ranks; the last one spans several chunks. */
static const size_t kCounts[] = {1, 7, 1003, (1u << 18) + 3};
#define NUM_COUNTS (sizeof(kCounts) / sizeof(kCounts[0]))

static int fail(const char* fmt, ...) {
  va_list ap;
  fprintf(stderr, "FAIL rank %d: ", g_rank);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  return 1;
}

/* Returns 0 on success, or reports the failed call and returns 1. */
static int call(strataResult_t res, const char* what) {
  if (res == strataSuccess) return 0;
  return fail("%s returned %s: %s", what, strataGetErrorString(res), strataGetLastError(g_comm));
}

#define CALL(expr)                          \
  do {                                      \
    if (call((expr), #expr) != 0) return 1; \
  } while (0)

static void* xmalloc(size_t bytes) {
  void* p = calloc(bytes ? bytes : 1, 1);
  if (!p) {
    fprintf(stderr, "rank %d: out of memory (%lu bytes)\n", g_rank, (unsigned long)bytes);
    exit(2);
  }
  return p;
}

/* Small positive integers: sums over up to 64 ranks stay far below 2^24. */
static int valueOf(int rank, size_t i) { return (int)((rank * 131u + i * 7u) % 23u) + 1; }

static int sumOver(size_t i) {
  int r, s = 0;
  for (r = 0; r < g_nranks; ++r) s += valueOf(r, i);
  return s;
}

static int maxOver(size_t i) {
  int r, m = valueOf(0, i);
  for (r = 1; r < g_nranks; ++r)
    if (valueOf(r, i) > m) m = valueOf(r, i);
  return m;
}

static int checkFloats(const char* what, size_t count, const float* got, size_t i0,
                       int (*expected)(size_t)) {
  size_t i;
  for (i = 0; i < count; ++i) {
    float want = (float)expected(i0 + i);
    if (got[i] != want)
      return fail("%s count %lu: element %lu is %g, expected %g", what, (unsigned long)count,
                  (unsigned long)i, (double)got[i], (double)want);
  }
  return 0;
}

static int testAllReduce(size_t count) {
  float* fs = (float*)xmalloc(count * sizeof(float));
  float* fr = (float*)xmalloc(count * sizeof(float));
  int* is = (int*)xmalloc(count * sizeof(int));
  int* ir = (int*)xmalloc(count * sizeof(int));
  int bad = 0;
  size_t i;

  for (i = 0; i < count; ++i) {
    fs[i] = (float)valueOf(g_rank, i);
    fr[i] = -1.0f;
  }
  bad = call(strataAllReduce(fs, fr, count, strataFloat32, strataSum, g_comm, NULL),
             "AllReduce float sum");
  if (!bad) bad = checkFloats("AllReduce float sum out-of-place", count, fr, 0, sumOver);

  if (!bad) {
    bad = call(strataAllReduce(fs, fs, count, strataFloat32, strataSum, g_comm, NULL),
               "AllReduce float sum in-place");
    if (!bad) bad = checkFloats("AllReduce float sum in-place", count, fs, 0, sumOver);
  }

  for (i = 0; i < count; ++i) {
    is[i] = valueOf(g_rank, i);
    ir[i] = -1;
  }
  if (!bad)
    bad = call(strataAllReduce(is, ir, count, strataInt32, strataMax, g_comm, NULL),
               "AllReduce int32 max");
  for (i = 0; !bad && i < count; ++i)
    if (ir[i] != maxOver(i))
      bad = fail("AllReduce int32 max out-of-place count %lu: element %lu is %d, expected %d",
                 (unsigned long)count, (unsigned long)i, ir[i], maxOver(i));
  if (!bad)
    bad = call(strataAllReduce(is, is, count, strataInt32, strataMax, g_comm, NULL),
               "AllReduce int32 max in-place");
  for (i = 0; !bad && i < count; ++i)
    if (is[i] != maxOver(i))
      bad = fail("AllReduce int32 max in-place count %lu: element %lu is %d, expected %d",
                 (unsigned long)count, (unsigned long)i, is[i], maxOver(i));

  free(fs);
  free(fr);
  free(is);
  free(ir);
  return bad;
}

static int testBroadcast(size_t count, int root) {
  float* buf = (float*)xmalloc(count * sizeof(float));
  float* out = (float*)xmalloc(count * sizeof(float));
  int bad = 0;
  size_t i;

  for (i = 0; i < count; ++i) {
    buf[i] = g_rank == root ? (float)valueOf(root, i) : -1.0f;
    out[i] = -2.0f;
  }
  bad = call(strataBroadcast(buf, out, count, strataFloat32, root, g_comm, NULL),
             "Broadcast out-of-place");
  for (i = 0; !bad && i < count; ++i)
    if (out[i] != (float)valueOf(root, i))
      bad = fail("Broadcast root %d count %lu: element %lu is %g, expected %d", root,
                 (unsigned long)count, (unsigned long)i, (double)out[i], valueOf(root, i));

  if (!bad)
    bad = call(strataBroadcast(buf, buf, count, strataFloat32, root, g_comm, NULL),
               "Broadcast in-place");
  for (i = 0; !bad && i < count; ++i)
    if (buf[i] != (float)valueOf(root, i))
      bad = fail("Broadcast in-place root %d count %lu: element %lu is %g, expected %d", root,
                 (unsigned long)count, (unsigned long)i, (double)buf[i], valueOf(root, i));

  for (i = 0; !bad && i < count; ++i) buf[i] = g_rank == root ? (float)valueOf(root, i) : -3.0f;
  if (!bad) bad = call(strataBcast(buf, count, strataFloat32, root, g_comm, NULL), "Bcast");
  for (i = 0; !bad && i < count; ++i)
    if (buf[i] != (float)valueOf(root, i))
      bad = fail("Bcast root %d count %lu: element %lu is %g, expected %d", root,
                 (unsigned long)count, (unsigned long)i, (double)buf[i], valueOf(root, i));
  free(buf);
  free(out);
  return bad;
}

static int testReduce(size_t count, int root) {
  int* send = (int*)xmalloc(count * sizeof(int));
  int* recv = (int*)xmalloc(count * sizeof(int));
  int bad = 0;
  size_t i;

  for (i = 0; i < count; ++i) {
    send[i] = valueOf(g_rank, i);
    recv[i] = -1;
  }
  bad = call(strataReduce(send, recv, count, strataInt32, strataSum, root, g_comm, NULL),
             "Reduce int32 sum");
  for (i = 0; !bad && g_rank == root && i < count; ++i)
    if (recv[i] != sumOver(i))
      bad = fail("Reduce root %d count %lu: element %lu is %d, expected %d", root,
                 (unsigned long)count, (unsigned long)i, recv[i], sumOver(i));
  free(send);
  free(recv);
  return bad;
}

static int testAllGather(size_t count) {
  size_t total = count * (size_t)g_nranks, i;
  float* send = (float*)xmalloc(count * sizeof(float));
  float* recv = (float*)xmalloc(total * sizeof(float));
  int bad = 0, r;

  for (i = 0; i < count; ++i) send[i] = (float)valueOf(g_rank, i);
  for (i = 0; i < total; ++i) recv[i] = -1.0f;
  bad = call(strataAllGather(send, recv, count, strataFloat32, g_comm, NULL), "AllGather");
  for (r = 0; !bad && r < g_nranks; ++r)
    for (i = 0; !bad && i < count; ++i)
      if (recv[(size_t)r * count + i] != (float)valueOf(r, i))
        bad = fail("AllGather count %lu: block %d element %lu is %g, expected %d",
                   (unsigned long)count, r, (unsigned long)i, (double)recv[(size_t)r * count + i],
                   valueOf(r, i));

  /* In place: this rank's block already sits at its offset in recvbuff. */
  for (i = 0; i < total; ++i) recv[i] = -1.0f;
  for (i = 0; i < count; ++i) recv[(size_t)g_rank * count + i] = (float)valueOf(g_rank, i);
  if (!bad)
    bad = call(
        strataAllGather(recv + (size_t)g_rank * count, recv, count, strataFloat32, g_comm, NULL),
        "AllGather in-place");
  for (r = 0; !bad && r < g_nranks; ++r)
    for (i = 0; !bad && i < count; ++i)
      if (recv[(size_t)r * count + i] != (float)valueOf(r, i))
        bad = fail("AllGather in-place count %lu: block %d element %lu is %g, expected %d",
                   (unsigned long)count, r, (unsigned long)i, (double)recv[(size_t)r * count + i],
                   valueOf(r, i));
  free(send);
  free(recv);
  return bad;
}

/* Gather to root, out of place and in place (the root's block already at its offset). The whole
 * buffer is the root's only, so the other ranks pass NULL for it. */
static int testGather(size_t count, int root) {
  size_t total = count * (size_t)g_nranks, i;
  int isRoot = g_rank == root, pass, r, bad = 0;
  float* send = (float*)xmalloc(count * sizeof(float));
  float* recv = isRoot ? (float*)xmalloc(total * sizeof(float)) : NULL;
  float* own = isRoot ? recv + (size_t)root * count : NULL;

  for (pass = 0; !bad && pass < 2; ++pass) {
    const char* what = pass ? "Gather in-place" : "Gather";
    for (i = 0; i < count; ++i) send[i] = (float)valueOf(g_rank, i);
    for (i = 0; isRoot && i < total; ++i) recv[i] = -1.0f;
    if (pass && isRoot)
      for (i = 0; i < count; ++i) own[i] = (float)valueOf(root, i);
    bad = call(
        strataGather(pass && isRoot ? own : send, recv, count, strataFloat32, root, g_comm, NULL),
        what);
    for (r = 0; !bad && isRoot && r < g_nranks; ++r)
      for (i = 0; !bad && i < count; ++i)
        if (recv[(size_t)r * count + i] != (float)valueOf(r, i))
          bad = fail("%s root %d count %lu: block %d element %lu is %g, expected %d", what, root,
                     (unsigned long)count, r, (unsigned long)i, (double)recv[(size_t)r * count + i],
                     valueOf(r, i));
  }
  free(send);
  free(recv);
  return bad;
}

/* Scatter from root, out of place and in place (the root's block stays where it is in
 * sendbuff). Only the root passes the whole buffer. */
static int testScatter(size_t count, int root) {
  size_t total = count * (size_t)g_nranks, i;
  int isRoot = g_rank == root, pass, bad = 0;
  float* send = isRoot ? (float*)xmalloc(total * sizeof(float)) : NULL;
  float* recv = (float*)xmalloc(count * sizeof(float));
  float* own = isRoot ? send + (size_t)root * count : NULL;
  float* got;

  for (pass = 0; !bad && pass < 2; ++pass) {
    const char* what = pass ? "Scatter in-place" : "Scatter";
    for (i = 0; isRoot && i < total; ++i) send[i] = (float)valueOf((int)(i / count), i % count);
    for (i = 0; i < count; ++i) recv[i] = -1.0f;
    got = pass && isRoot ? own : recv;
    bad = call(strataScatter(send, got, count, strataFloat32, root, g_comm, NULL), what);
    for (i = 0; !bad && i < count; ++i)
      if (got[i] != (float)valueOf(g_rank, i))
        bad = fail("%s root %d count %lu: element %lu is %g, expected %d", what, root,
                   (unsigned long)count, (unsigned long)i, (double)got[i], valueOf(g_rank, i));
  }
  free(send);
  free(recv);
  return bad;
}

/* Rank r contributes r + base elements; blocks land with a one-element gap between them. */
static int testAllGatherv(size_t base) {
  size_t* counts = (size_t*)xmalloc((size_t)g_nranks * sizeof(size_t));
  size_t* displs = (size_t*)xmalloc((size_t)g_nranks * sizeof(size_t));
  size_t total = 0, i;
  int r, bad = 0;
  int* send;
  int* recv;

  for (r = 0; r < g_nranks; ++r) {
    counts[r] = (size_t)r + base;
    displs[r] = total;
    total += counts[r] + 1;
  }
  send = (int*)xmalloc(counts[g_rank] * sizeof(int));
  recv = (int*)xmalloc(total * sizeof(int));
  for (i = 0; i < counts[g_rank]; ++i) send[i] = valueOf(g_rank, i) + 1000 * g_rank;
  for (i = 0; i < total; ++i) recv[i] = -7;
  bad =
      call(strataAllGatherv(send, counts[g_rank], recv, counts, displs, strataInt32, g_comm, NULL),
           "AllGatherv");
  for (r = 0; !bad && r < g_nranks; ++r) {
    for (i = 0; !bad && i < counts[r]; ++i)
      if (recv[displs[r] + i] != valueOf(r, i) + 1000 * r)
        bad = fail("AllGatherv base %lu: block %d element %lu is %d, expected %d",
                   (unsigned long)base, r, (unsigned long)i, recv[displs[r] + i],
                   valueOf(r, i) + 1000 * r);
    if (!bad && recv[displs[r] + counts[r]] != -7)
      bad = fail("AllGatherv base %lu: the gap after block %d was overwritten", (unsigned long)base,
                 r);
  }
  free(counts);
  free(displs);
  free(send);
  free(recv);
  return bad;
}

static int testReduceScatter(size_t recvcount) {
  size_t total = recvcount * (size_t)g_nranks, i;
  size_t mine = (size_t)g_rank * recvcount;
  float* send = (float*)xmalloc(total * sizeof(float));
  float* recv = (float*)xmalloc(recvcount * sizeof(float));
  int bad = 0;

  for (i = 0; i < total; ++i) send[i] = (float)valueOf(g_rank, i);
  for (i = 0; i < recvcount; ++i) recv[i] = -1.0f;
  bad = call(strataReduceScatter(send, recv, recvcount, strataFloat32, strataSum, g_comm, NULL),
             "ReduceScatter");
  if (!bad) bad = checkFloats("ReduceScatter", recvcount, recv, mine, sumOver);

  if (!bad)
    bad = call(
        strataReduceScatter(send, send + mine, recvcount, strataFloat32, strataSum, g_comm, NULL),
        "ReduceScatter in-place");
  if (!bad) bad = checkFloats("ReduceScatter in-place", recvcount, send + mine, mine, sumOver);
  free(send);
  free(recv);
  return bad;
}

/* The element rank src sends to rank dst at position k: unique for up to 32 ranks and 2^20
 * elements per block. */
static int a2aValue(int src, int dst, size_t k) { return ((src * 32 + dst) << 20) | (int)k; }

static int testAllToAll(size_t count) {
  size_t total = count * (size_t)g_nranks, k;
  int* send = (int*)xmalloc(total * sizeof(int));
  int* recv = (int*)xmalloc(total * sizeof(int));
  int bad = 0, peer;

  for (peer = 0; peer < g_nranks; ++peer)
    for (k = 0; k < count; ++k) send[(size_t)peer * count + k] = a2aValue(g_rank, peer, k);
  for (k = 0; k < total; ++k) recv[k] = -1;
  bad = call(strataAllToAll(send, recv, count, strataInt32, g_comm, NULL), "AllToAll");
  for (peer = 0; !bad && peer < g_nranks; ++peer)
    for (k = 0; !bad && k < count; ++k)
      if (recv[(size_t)peer * count + k] != a2aValue(peer, g_rank, k))
        bad = fail("AllToAll count %lu: from rank %d element %lu is %d, expected %d",
                   (unsigned long)count, peer, (unsigned long)k, recv[(size_t)peer * count + k],
                   a2aValue(peer, g_rank, k));
  free(send);
  free(recv);
  return bad;
}

/* Elements rank src sends to rank dst; zero for some pairs. */
static size_t a2avCount(int src, int dst) { return (size_t)((src * 3 + dst * 5) % 4) * 3; }

static int testAllToAllv(void) {
  size_t n = (size_t)g_nranks, stotal = 0, rtotal = 0, k;
  size_t* scounts = (size_t*)xmalloc(n * sizeof(size_t));
  size_t* sdispls = (size_t*)xmalloc(n * sizeof(size_t));
  size_t* rcounts = (size_t*)xmalloc(n * sizeof(size_t));
  size_t* rdispls = (size_t*)xmalloc(n * sizeof(size_t));
  int* send;
  int* recv;
  int bad = 0, peer;

  for (peer = 0; peer < g_nranks; ++peer) {
    scounts[peer] = a2avCount(g_rank, peer);
    sdispls[peer] = stotal;
    stotal += scounts[peer];
    rcounts[peer] = a2avCount(peer, g_rank);
    rdispls[peer] = rtotal;
    rtotal += rcounts[peer] + 2; /* a gap that must stay untouched */
  }
  send = (int*)xmalloc(stotal * sizeof(int));
  recv = (int*)xmalloc(rtotal * sizeof(int));
  for (peer = 0; peer < g_nranks; ++peer)
    for (k = 0; k < scounts[peer]; ++k) send[sdispls[peer] + k] = a2aValue(g_rank, peer, k);
  for (k = 0; k < rtotal; ++k) recv[k] = -1;
  bad = call(
      strataAllToAllv(send, scounts, sdispls, recv, rcounts, rdispls, strataInt32, g_comm, NULL),
      "AllToAllv");
  for (peer = 0; !bad && peer < g_nranks; ++peer) {
    for (k = 0; !bad && k < rcounts[peer]; ++k)
      if (recv[rdispls[peer] + k] != a2aValue(peer, g_rank, k))
        bad = fail("AllToAllv: from rank %d element %lu is %d, expected %d", peer, (unsigned long)k,
                   recv[rdispls[peer] + k], a2aValue(peer, g_rank, k));
    if (!bad && (recv[rdispls[peer] + rcounts[peer]] != -1 ||
                 recv[rdispls[peer] + rcounts[peer] + 1] != -1))
      bad = fail("AllToAllv: the gap after the block from rank %d was overwritten", peer);
  }
  free(scounts);
  free(sdispls);
  free(rcounts);
  free(rdispls);
  free(send);
  free(recv);
  return bad;
}

/* Each rank sends to the next and receives from the previous, fused in one group. */
static int testSendRecvRing(size_t count) {
  int next = (g_rank + 1) % g_nranks, prev = (g_rank + g_nranks - 1) % g_nranks;
  float* send = (float*)xmalloc(count * sizeof(float));
  float* recv = (float*)xmalloc(count * sizeof(float));
  int bad = 0;
  size_t i;

  for (i = 0; i < count; ++i) {
    send[i] = (float)valueOf(g_rank, i);
    recv[i] = -1.0f;
  }
  bad = call(strataGroupStart(), "GroupStart");
  if (!bad) bad = call(strataSend(send, count, strataFloat32, next, g_comm, NULL), "Send");
  if (!bad) bad = call(strataRecv(recv, count, strataFloat32, prev, g_comm, NULL), "Recv");
  if (!bad) bad = call(strataGroupEnd(), "GroupEnd");
  for (i = 0; !bad && i < count; ++i)
    if (recv[i] != (float)valueOf(prev, i))
      bad = fail("Send/Recv ring count %lu: element %lu from rank %d is %g, expected %d",
                 (unsigned long)count, (unsigned long)i, prev, (double)recv[i], valueOf(prev, i));
  free(send);
  free(recv);
  return bad;
}

/* Two AllReduces queued on a stream complete by strataStreamSynchronize. */
static int testStream(size_t count) {
  strataStream_t stream = NULL;
  float* a = (float*)xmalloc(count * sizeof(float));
  int* b = (int*)xmalloc(count * sizeof(int));
  int* bout = (int*)xmalloc(count * sizeof(int));
  int bad = 0;
  size_t i;

  for (i = 0; i < count; ++i) {
    a[i] = (float)valueOf(g_rank, i);
    b[i] = valueOf(g_rank, i);
    bout[i] = -1;
  }
  bad = call(strataStreamCreate(&stream), "StreamCreate");
  if (!bad)
    bad = call(strataAllReduce(a, a, count, strataFloat32, strataSum, g_comm, stream),
               "AllReduce on a stream");
  if (!bad)
    bad = call(strataAllReduce(b, bout, count, strataInt32, strataMax, g_comm, stream),
               "second AllReduce on a stream");
  if (!bad) bad = call(strataStreamSynchronize(stream), "StreamSynchronize");
  if (!bad) bad = call(strataStreamQuery(stream), "StreamQuery after Synchronize");
  if (!bad) bad = checkFloats("AllReduce on a stream", count, a, 0, sumOver);
  for (i = 0; !bad && i < count; ++i)
    if (bout[i] != maxOver(i))
      bad = fail("second AllReduce on a stream: element %lu is %d, expected %d", (unsigned long)i,
                 bout[i], maxOver(i));
  if (stream && call(strataStreamDestroy(stream), "StreamDestroy")) bad = 1;
  free(a);
  free(b);
  free(bout);
  return bad;
}

static int runAll(void) {
  size_t c;
  int root;
  for (c = 0; c < NUM_COUNTS; ++c) {
    size_t count = kCounts[c];
    if (testAllReduce(count)) return 1;
    if (testBroadcast(count, 0)) return 1;
    if (testBroadcast(count, g_nranks - 1)) return 1;
    for (root = 0; root < g_nranks; ++root)
      if (testReduce(count, root)) return 1;
    if (testAllGather(count)) return 1;
    if (testGather(count, 0) || testGather(count, g_nranks - 1)) return 1;
    if (testScatter(count, 0) || testScatter(count, g_nranks - 1)) return 1;
    if (testReduceScatter(count)) return 1;
    if (testAllToAll(count)) return 1;
    if (testSendRecvRing(count)) return 1;
  }
  if (testAllGatherv(0)) return 1;
  if (testAllGatherv(1001)) return 1;
  if (testAllToAllv()) return 1;
  CALL(strataBarrier(g_comm, NULL));
  if (testStream(1003)) return 1;
  CALL(strataBarrier(g_comm, NULL));
  return 0;
}

int main(void) {
  int version = 0, bad;
  if (strataGetVersion(&version) != strataSuccess || version != STRATA_VERSION_CODE) {
    fprintf(stderr, "FAIL: strataGetVersion gave %d, header says %d\n", version,
            STRATA_VERSION_CODE);
    return 1;
  }
  if (call(strataCommInitFromEnv(&g_comm, NULL), "CommInitFromEnv")) return 1;
  if (call(strataCommUserRank(g_comm, &g_rank), "CommUserRank")) return 1;
  if (call(strataCommCount(g_comm, &g_nranks), "CommCount")) return 1;

  bad = runAll();
  if (bad) {
    strataCommAbort(g_comm);
    return 1;
  }
  if (call(strataCommFinalize(g_comm), "CommFinalize")) return 1;
  if (call(strataCommDestroy(g_comm), "CommDestroy")) return 1;
  printf("OK rank %d\n", g_rank);
  return 0;
}
